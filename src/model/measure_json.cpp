#include "model/measure_json.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string_view>

#include "joulebench/error.hpp"

namespace joulebench {

using json = nlohmann::ordered_json;

namespace {
template <class T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}
}  // namespace

json phases_to_json(const std::vector<MarkedPhase>& phases) {
    json out = json::array();
    for (const auto& p : phases) {
        json phase_domains = json::array();
        for (const auto& d : p.domains) {
            phase_domains.push_back({{"id", d.id},
                                     {"energy_j", opt(d.energy_j)},
                                     {"method", to_string(d.method)},
                                     {"counts_in_total", d.counts_in_total}});
        }
        out.push_back({{"name", p.name},
                       {"begin_s", p.begin_s},
                       {"end_s", p.end_s},
                       {"wall_s", p.wall_s},
                       {"energy_j", opt(p.energy_j)},
                       {"ended_by_run", p.ended_by_run},
                       {"domains", std::move(phase_domains)}});
    }
    return out;
}

json measure_to_json(const MeasureResult& r) {
    json j;
    j["schema_version"] = kMeasureSchemaVersion;
    j["joulebench_version"] = JOULEBENCH_VERSION;
    j["command"] = r.command;
    j["exit_code"] = r.exit_code;
    j["signal"] = opt(r.signal);
    j["started_at"] = r.started_at;
    j["wall_s"] = r.wall_s;
    j["cpu_user_s"] = r.cpu_user_s;
    j["cpu_system_s"] = r.cpu_system_s;
    json domains = json::array();
    for (const auto& d : r.domains) {
        json o;
        o["id"] = d.info.id;
        o["kind"] = std::string(to_string(d.info.kind));
        o["index"] = d.info.index;
        o["name"] = d.info.name;
        o["backend"] = d.info.backend;
        o["energy_j"] = d.energy_j;
        o["avg_power_w"] = d.avg_power_w;
        o["peak_power_w"] = opt(d.peak_power_w);
        o["method"] = std::string(to_string(d.info.method));
        o["counts_in_total"] = d.counts_in_total;
        o["wraps"] = d.health.wraps;
        o["resets"] = d.health.resets;
        o["failed_reads"] = d.failed_reads;
        o["update_period_ms"] = static_cast<double>(d.info.update_period.count()) / 1000.0;
        o["wrap_range_j"] = d.info.wrap_range ? json(d.info.wrap_range->value()) : json(nullptr);
        o["cross_check_energy_j"] = opt(d.cross_check_energy_j);
        o["disagreement_pct"] = opt(d.disagreement_pct);
        if (d.idle_power_w) {
            o["idle_power_w"] = *d.idle_power_w;
            o["net_energy_j"] = opt(d.net_energy_j);
        }
        o["sharing"] = std::string(to_string(d.sharing));
        o["measured_on"] = std::string(to_string(d.measured_on));
        if (d.sharing == Sharing::kAttributed) {
            o["cpu_time_share"] = opt(d.cpu_time_share);
            o["measured_energy_j"] = opt(d.measured_energy_j);
        }
        domains.push_back(std::move(o));
    }
    j["domains"] = std::move(domains);
    json gpus = json::array();
    for (const auto& g : r.gpus) {
        gpus.push_back({{"index", g.index},
                        {"id", g.id},
                        {"name", g.name},
                        {"uuid", g.uuid},
                        {"pci_bus_id", g.pci_bus_id},
                        {"mean_utilisation_pct", opt(g.mean_utilisation_pct)},
                        {"max_utilisation_pct", opt(g.max_utilisation_pct)},
                        {"max_temperature_c", opt(g.max_temperature_c)},
                        {"mean_sm_clock_mhz", opt(g.mean_sm_clock_mhz)},
                        {"throttle_reasons", g.throttle_reasons},
                        {"enforced_limit_w", opt(g.enforced_limit_w)}});
    }
    j["gpus"] = std::move(gpus);
    json caps = json::array();
    for (const auto& c : r.power_caps) {
        caps.push_back(
            {{"id", c.id},
             {"kind", c.kind},
             {"index", c.index},
             {"label", c.label},
             {"key", c.key},
             {"requested_w", c.requested_w},
             {"enforced_w", opt(c.enforced_w)},
             {"original_w", c.original_w},
             {"default_w", opt(c.default_w)},
             {"restored", c.restored},
             {"restore_error", c.restore_error.empty() ? json(nullptr) : json(c.restore_error)},
             {"throttled_by_cap", opt(c.throttled)}});
    }
    j["power_caps"] = std::move(caps);
    j["total_energy_j"] = r.total_energy_j;
    j["total_includes_estimate"] = r.total_includes_estimate;
    j["edp_js"] = r.edp_js;
    j["ed2p_js2"] = r.ed2p_js2;
    if (r.idle) {
        json idle;
        idle["duration_s"] = r.idle->duration_s;
        idle["power_w"] = r.idle->power_w;
        idle["energy_j"] = r.idle->energy_j;
        idle["gross_energy_j"] = r.total_energy_j;
        idle["net_energy_j"] = r.idle->net_energy_j;
        json per = json::object();
        for (const auto& [id, p] : r.idle->domain_power_w) per[id] = p;
        idle["domain_power_w"] = std::move(per);
        j["idle"] = std::move(idle);
    } else {
        j["idle"] = nullptr;
    }
    if (r.estimate) {
        j["estimate"] = {{"cpu_model", r.estimate->cpu_model},
                         {"tdp_w", r.estimate->tdp_w},
                         {"threads_per_package", r.estimate->threads_per_package},
                         {"watts_per_cpu", r.estimate->watts_per_cpu},
                         {"tdp_source", r.estimate->source}};
    } else {
        j["estimate"] = nullptr;
    }
    // The texts as they always were, and beside them each one's code (warning_codes[i] is the
    // code of warnings[i]), so that readers of the texts are not broken.
    json texts = json::array();
    json codes = json::array();
    for (const auto& w : r.warnings) {
        texts.push_back(w.text);
        codes.push_back(w.code);
    }
    j["warnings"] = std::move(texts);
    j["warning_codes"] = std::move(codes);
    j["phases"] = phases_to_json(r.phases);
    j["samples"] = r.samples;
    j["polls"] = r.polls;
    j["interval_ms"] = r.interval_ms;
    j["poll_interval_ms"] = r.poll_interval_ms;
    j["late_ticks"] = r.late_ticks;
    j["monitor_cpu_s"] = r.monitor_cpu_s;
    j["monitor_overhead_pct"] = r.monitor_overhead_pct;
    return j;
}

namespace {

// Reads one measure_to_json document back, naming the path of whatever is wrong. A template over
// the two nlohmann JSON types (ordered keeps idle.domain_power_w in document order).
template <class Json>
class ResultReader {
public:
    [[noreturn]] static void fail(const std::string& path, std::string_view problem) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("measure: read the JSON result: {}{}{}", path,
                                path.empty() ? "" : ": ", problem),
                    "the document must be what `joulebench measure --json` of the same schema "
                    "version writes");
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
    }

    static const char* type_of(const Json& v) { return v.type_name(); }

    static const Json& member(const Json& object, const std::string& path, std::string_view key) {
        const auto it = object.find(std::string(key));
        if (it == object.end()) fail(path, fmt::format("key '{}' is missing", key));
        return *it;
    }

    static const Json& object_at(const Json& object, const std::string& path,
                                 std::string_view key) {
        const Json& v = member(object, path, key);
        if (!v.is_object())
            fail(join(path, key), fmt::format("must be an object, not {}", type_of(v)));
        return v;
    }

    static const Json& array_at(const Json& object, const std::string& path, std::string_view key) {
        const Json& v = member(object, path, key);
        if (!v.is_array())
            fail(join(path, key), fmt::format("must be an array, not {}", type_of(v)));
        return v;
    }

    static double number(const Json& v, const std::string& path) {
        if (!v.is_number()) fail(path, fmt::format("must be a number, not {}", type_of(v)));
        return v.template get<double>();
    }

    static double number_at(const Json& object, const std::string& path, std::string_view key) {
        return number(member(object, path, key), join(path, key));
    }

    static std::optional<double> optional_number_at(const Json& object, const std::string& path,
                                                    std::string_view key) {
        const Json& v = member(object, path, key);
        if (v.is_null()) return std::nullopt;
        return number(v, join(path, key));
    }

    static std::int64_t integer(const Json& v, const std::string& path, std::int64_t min,
                                std::int64_t max) {
        if (!v.is_number_integer())
            fail(path, fmt::format("must be an integer, not {}", type_of(v)));
        if (v.is_number_unsigned() &&
            v.template get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
            fail(path, "is out of range");
        }
        const auto value = v.template get<std::int64_t>();
        if (value < min || value > max) fail(path, fmt::format("{} is out of range", value));
        return value;
    }

    static int int_at(const Json& object, const std::string& path, std::string_view key) {
        return static_cast<int>(integer(member(object, path, key), join(path, key),
                                        std::numeric_limits<int>::min(),
                                        std::numeric_limits<int>::max()));
    }

    static std::optional<int> optional_int_at(const Json& object, const std::string& path,
                                              std::string_view key) {
        const Json& v = member(object, path, key);
        if (v.is_null()) return std::nullopt;
        return static_cast<int>(integer(v, join(path, key), std::numeric_limits<int>::min(),
                                        std::numeric_limits<int>::max()));
    }

    static std::uint64_t count_at(const Json& object, const std::string& path,
                                  std::string_view key) {
        const Json& v = member(object, path, key);
        if (!v.is_number_unsigned()) {
            fail(join(path, key), fmt::format("must be a non-negative integer, not {}", v.dump()));
        }
        return v.template get<std::uint64_t>();
    }

    static bool boolean_at(const Json& object, const std::string& path, std::string_view key) {
        const Json& v = member(object, path, key);
        if (!v.is_boolean())
            fail(join(path, key), fmt::format("must be true or false, not {}", type_of(v)));
        return v.template get<bool>();
    }

    static std::optional<bool> optional_boolean_at(const Json& object, const std::string& path,
                                                   std::string_view key) {
        if (member(object, path, key).is_null()) return std::nullopt;
        return boolean_at(object, path, key);
    }

    static std::string string(const Json& v, const std::string& path) {
        if (!v.is_string()) fail(path, fmt::format("must be a string, not {}", type_of(v)));
        return v.template get<std::string>();
    }

    static std::string string_at(const Json& object, const std::string& path,
                                 std::string_view key) {
        return string(member(object, path, key), join(path, key));
    }

    static std::vector<std::string> strings_at(const Json& object, const std::string& path,
                                               std::string_view key) {
        const Json& array = array_at(object, path, key);
        std::vector<std::string> out;
        for (std::size_t i = 0; i < array.size(); ++i) {
            out.push_back(string(array[i], fmt::format("{}[{}]", join(path, key), i)));
        }
        return out;
    }

    static DomainResult domain(const Json& o, const std::string& path) {
        if (!o.is_object()) fail(path, fmt::format("must be an object, not {}", type_of(o)));
        DomainResult d;
        d.info.id = string_at(o, path, "id");
        const std::string kind = string_at(o, path, "kind");
        const auto parsed_kind = domain_kind_from_string(kind);
        if (!parsed_kind) fail(join(path, "kind"), fmt::format("unknown domain kind '{}'", kind));
        d.info.kind = *parsed_kind;
        d.info.index = int_at(o, path, "index");
        d.info.name = string_at(o, path, "name");
        d.info.backend = string_at(o, path, "backend");
        d.energy_j = number_at(o, path, "energy_j");
        d.avg_power_w = number_at(o, path, "avg_power_w");
        d.peak_power_w = optional_number_at(o, path, "peak_power_w");
        const std::string method = string_at(o, path, "method");
        const auto parsed_method = method_from_string(method);
        if (!parsed_method) fail(join(path, "method"), fmt::format("unknown method '{}'", method));
        d.info.method = *parsed_method;
        d.counts_in_total = boolean_at(o, path, "counts_in_total");
        d.health.wraps = count_at(o, path, "wraps");
        d.health.resets = count_at(o, path, "resets");
        d.failed_reads = count_at(o, path, "failed_reads");
        const double update_ms = number_at(o, path, "update_period_ms");
        if (!(update_ms >= 0.0) || update_ms > 1e12) {
            fail(join(path, "update_period_ms"), fmt::format("{} is out of range", update_ms));
        }
        d.info.update_period = std::chrono::microseconds(std::llround(update_ms * 1000.0));
        if (const auto wrap = optional_number_at(o, path, "wrap_range_j"))
            d.info.wrap_range = Joules(*wrap);
        d.cross_check_energy_j = optional_number_at(o, path, "cross_check_energy_j");
        d.disagreement_pct = optional_number_at(o, path, "disagreement_pct");
        if (o.contains("idle_power_w")) {
            d.idle_power_w = number_at(o, path, "idle_power_w");
            d.net_energy_j = optional_number_at(o, path, "net_energy_j");
        }
        // Documents written before domains said where they were measured: this machine.
        if (o.contains("measured_on")) {
            const std::string where = string_at(o, path, "measured_on");
            const auto parsed = location_from_string(where);
            if (!parsed) fail(join(path, "measured_on"), fmt::format("unknown place '{}'", where));
            d.measured_on = *parsed;
        }
        // Documents written before domains carried their sharing (store schema 2) said it only
        // in their warnings: such a domain reads as measured alone.
        if (o.contains("sharing")) {
            const std::string sharing = string_at(o, path, "sharing");
            const auto parsed = sharing_from_string(sharing);
            if (!parsed) fail(join(path, "sharing"), fmt::format("unknown sharing '{}'", sharing));
            d.sharing = *parsed;
            if (o.contains("cpu_time_share")) {
                d.cpu_time_share = optional_number_at(o, path, "cpu_time_share");
            }
            if (o.contains("measured_energy_j")) {
                d.measured_energy_j = optional_number_at(o, path, "measured_energy_j");
            }
        }
        return d;
    }

    static MarkedPhase phase(const Json& o, const std::string& path) {
        MarkedPhase p;
        p.name = string_at(o, path, "name");
        p.begin_s = number_at(o, path, "begin_s");
        p.end_s = number_at(o, path, "end_s");
        p.wall_s = number_at(o, path, "wall_s");
        p.energy_j = optional_number_at(o, path, "energy_j");
        p.ended_by_run = boolean_at(o, path, "ended_by_run");
        const Json& domains = array_at(o, path, "domains");
        for (std::size_t i = 0; i < domains.size(); ++i) {
            const std::string at = fmt::format("{}.domains[{}]", path, i);
            PhaseDomainEnergy d;
            d.id = string_at(domains[i], at, "id");
            d.energy_j = optional_number_at(domains[i], at, "energy_j");
            const std::string method = string_at(domains[i], at, "method");
            const auto parsed = method_from_string(method);
            if (!parsed) fail(join(at, "method"), fmt::format("unknown method '{}'", method));
            d.method = *parsed;
            d.counts_in_total = boolean_at(domains[i], at, "counts_in_total");
            p.domains.push_back(std::move(d));
        }
        return p;
    }

    // The bits throttle_reason_names() names, found by asking it about each bit, so that the two
    // can never disagree; "other(0x...)" carries the unnamed bits itself.
    static std::uint64_t throttle_mask(const std::vector<std::string>& names,
                                       const std::string& path) {
        std::map<std::string, std::uint64_t, std::less<>> bits;
        for (unsigned bit = 0; bit < 64; ++bit) {
            const std::uint64_t value = std::uint64_t{1} << bit;
            const auto named = throttle_reason_names(value);
            if (named.size() == 1 && named[0].rfind("other(", 0) != 0) bits[named[0]] = value;
        }
        std::uint64_t mask = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const std::string& name = names[i];
            if (const auto it = bits.find(name); it != bits.end()) {
                mask |= it->second;
            } else if (name.rfind("other(0x", 0) == 0 && name.back() == ')') {
                const std::string hex = name.substr(8, name.size() - 9);
                std::size_t used = 0;
                std::uint64_t other = 0;
                try {
                    other = std::stoull(hex, &used, 16);
                } catch (const std::exception&) {
                    used = 0;
                }
                if (used == 0 || used != hex.size()) {
                    fail(fmt::format("{}[{}]", path, i), fmt::format("bad reason '{}'", name));
                }
                mask |= other;
            }
            // A reason named by a newer joulebench: kept in throttle_reasons, no bit here.
        }
        return mask;
    }

    static GpuResult gpu(const Json& o, const std::string& path) {
        if (!o.is_object()) fail(path, fmt::format("must be an object, not {}", type_of(o)));
        GpuResult g;
        g.index = int_at(o, path, "index");
        g.id = string_at(o, path, "id");
        g.name = string_at(o, path, "name");
        g.uuid = string_at(o, path, "uuid");
        g.pci_bus_id = string_at(o, path, "pci_bus_id");
        g.mean_utilisation_pct = optional_number_at(o, path, "mean_utilisation_pct");
        if (const auto max = optional_int_at(o, path, "max_utilisation_pct")) {
            if (*max < 0) fail(join(path, "max_utilisation_pct"), "must not be negative");
            g.max_utilisation_pct = static_cast<unsigned>(*max);
        }
        g.max_temperature_c = optional_number_at(o, path, "max_temperature_c");
        g.mean_sm_clock_mhz = optional_number_at(o, path, "mean_sm_clock_mhz");
        g.throttle_reasons = strings_at(o, path, "throttle_reasons");
        g.throttle_mask = throttle_mask(g.throttle_reasons, join(path, "throttle_reasons"));
        g.enforced_limit_w = optional_number_at(o, path, "enforced_limit_w");
        return g;
    }

    static PowerCapResult cap(const Json& o, const std::string& path) {
        if (!o.is_object()) fail(path, fmt::format("must be an object, not {}", type_of(o)));
        PowerCapResult c;
        c.id = string_at(o, path, "id");
        c.kind = string_at(o, path, "kind");
        c.index = int_at(o, path, "index");
        c.label = string_at(o, path, "label");
        c.key = string_at(o, path, "key");
        c.requested_w = number_at(o, path, "requested_w");
        c.enforced_w = optional_number_at(o, path, "enforced_w");
        c.original_w = number_at(o, path, "original_w");
        c.default_w = optional_number_at(o, path, "default_w");
        c.restored = boolean_at(o, path, "restored");
        if (!member(o, path, "restore_error").is_null())
            c.restore_error = string_at(o, path, "restore_error");
        c.throttled = optional_boolean_at(o, path, "throttled_by_cap");
        return c;
    }

    static MeasureResult read(const Json& j) {
        const std::string root;
        if (!j.is_object())
            fail(root, fmt::format("the document must be an object, not {}", type_of(j)));
        const int schema = int_at(j, root, "schema_version");
        if (schema != kMeasureSchemaVersion) {
            fail("schema_version", fmt::format("{} is not the version this joulebench reads ({}): "
                                               "install the same joulebench version on both sides",
                                               schema, kMeasureSchemaVersion));
        }
        MeasureResult r;
        r.command = strings_at(j, root, "command");
        r.exit_code = int_at(j, root, "exit_code");
        r.signal = optional_int_at(j, root, "signal");
        r.started_at = number_at(j, root, "started_at");
        r.wall_s = number_at(j, root, "wall_s");
        r.cpu_user_s = number_at(j, root, "cpu_user_s");
        r.cpu_system_s = number_at(j, root, "cpu_system_s");
        const Json& domains = array_at(j, root, "domains");
        for (std::size_t i = 0; i < domains.size(); ++i) {
            r.domains.push_back(domain(domains[i], fmt::format("domains[{}]", i)));
        }
        const Json& gpus = array_at(j, root, "gpus");
        for (std::size_t i = 0; i < gpus.size(); ++i) {
            r.gpus.push_back(gpu(gpus[i], fmt::format("gpus[{}]", i)));
        }
        const Json& caps = array_at(j, root, "power_caps");
        for (std::size_t i = 0; i < caps.size(); ++i) {
            r.power_caps.push_back(cap(caps[i], fmt::format("power_caps[{}]", i)));
        }
        r.total_energy_j = number_at(j, root, "total_energy_j");
        r.total_includes_estimate = boolean_at(j, root, "total_includes_estimate");
        r.edp_js = number_at(j, root, "edp_js");
        r.ed2p_js2 = number_at(j, root, "ed2p_js2");
        if (!member(j, root, "idle").is_null()) {
            const Json& idle = object_at(j, root, "idle");
            IdleResult out;
            out.duration_s = number_at(idle, "idle", "duration_s");
            out.power_w = number_at(idle, "idle", "power_w");
            out.energy_j = number_at(idle, "idle", "energy_j");
            out.net_energy_j = number_at(idle, "idle", "net_energy_j");
            const Json& per = object_at(idle, "idle", "domain_power_w");
            for (auto it = per.begin(); it != per.end(); ++it) {
                out.domain_power_w.emplace_back(
                    it.key(), number(it.value(), fmt::format("idle.domain_power_w.{}", it.key())));
            }
            r.idle = std::move(out);
        }
        if (!member(j, root, "estimate").is_null()) {
            const Json& e = object_at(j, root, "estimate");
            EstimateModel m;
            m.cpu_model = string_at(e, "estimate", "cpu_model");
            m.tdp_w = number_at(e, "estimate", "tdp_w");
            const std::int64_t threads =
                integer(member(e, "estimate", "threads_per_package"),
                        "estimate.threads_per_package", 0, std::numeric_limits<unsigned>::max());
            m.threads_per_package = static_cast<unsigned>(threads);
            m.watts_per_cpu = number_at(e, "estimate", "watts_per_cpu");
            m.source = string_at(e, "estimate", "tdp_source");
            r.estimate = std::move(m);
        }
        const std::vector<std::string> texts = strings_at(j, root, "warnings");
        // Documents written before warnings had codes: each text's code from its words.
        std::vector<std::string> codes;
        if (j.contains("warning_codes")) {
            codes = strings_at(j, root, "warning_codes");
            if (codes.size() != texts.size()) {
                fail("warning_codes",
                     fmt::format("{} codes for {} warnings", codes.size(), texts.size()));
            }
        }
        for (std::size_t i = 0; i < texts.size(); ++i) {
            r.warnings.push_back(
                {codes.empty() ? std::string(legacy_warning_code(texts[i])) : codes[i], texts[i]});
        }
        if (j.contains("phases")) {  // documents before marked phases have none
            const Json& phases = array_at(j, root, "phases");
            for (std::size_t i = 0; i < phases.size(); ++i) {
                r.phases.push_back(phase(phases[i], fmt::format("phases[{}]", i)));
            }
        }
        r.samples = count_at(j, root, "samples");
        r.polls = count_at(j, root, "polls");
        r.interval_ms = number_at(j, root, "interval_ms");
        r.poll_interval_ms = number_at(j, root, "poll_interval_ms");
        r.late_ticks = count_at(j, root, "late_ticks");
        r.monitor_cpu_s = number_at(j, root, "monitor_cpu_s");
        r.monitor_overhead_pct = number_at(j, root, "monitor_overhead_pct");
        return r;
    }
};

}  // namespace

MeasureResult measure_from_json(const nlohmann::ordered_json& document) {
    return ResultReader<nlohmann::ordered_json>::read(document);
}

MeasureResult measure_from_json(const nlohmann::json& document) {
    return ResultReader<nlohmann::json>::read(document);
}

}  // namespace joulebench
