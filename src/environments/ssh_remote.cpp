#include "environments/ssh_remote.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include <stdexcept>
#include <type_traits>

#include "common/child_env.hpp"
#include "common/random_hex.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "measure/csv_trace.hpp"

namespace joulebench::environments::ssh {

namespace {

constexpr std::string_view kTag = "@joulebench-ssh:";
constexpr std::size_t kPreambleTextBytes = 4096;
constexpr std::size_t kMaxEndLineBytes = 64;

}  // namespace

std::string make_nonce() { return random_hex(16); }

std::string start_line(std::string_view nonce) {
    return fmt::format("{}{}:start", kTag, nonce);
}

std::string end_line_prefix(std::string_view nonce) {
    return fmt::format("{}{}:end:", kTag, nonce);
}

std::vector<std::string> measure_words(const RemoteRun& run) {
    if (run.command.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "ssh: build the remote command: no command");
    }
    std::vector<std::string> words{"env"};
    for (const auto& [name, value] : run.env) {
        // `env` takes the first word without '=' as the command: a name must not hide one.
        if (!is_env_var_name(name)) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("ssh: build the remote command: '{}' is not a valid "
                                    "environment variable name",
                                    name));
        }
        words.push_back(name + "=" + value);
    }
    words.push_back(run.remote_joulebench);
    words.emplace_back("measure");
    words.emplace_back("-q");
    if (run.interval.count() < 1) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("ssh: build the remote command: trace interval {} ms is under 1 ms",
                                run.interval.count()));
    }
    words.emplace_back("--interval");
    words.push_back(std::to_string(run.interval.count()));
    if (run.gpu) {
        words.emplace_back("--gpus");
        words.push_back(std::to_string(*run.gpu));
    }
    if (run.gpu_cap_w) {
        words.emplace_back("--power-cap");
        words.push_back(format_watts(*run.gpu_cap_w));
    }
    if (run.cpu_cap_w) {
        words.emplace_back("--cpu-power-cap");
        words.push_back(format_watts(*run.cpu_cap_w));
    }
    words.emplace_back("--");
    words.insert(words.end(), run.command.begin(), run.command.end());
    return words;
}

std::string remote_script(const RemoteRun& run) {
    const std::vector<std::string> words = measure_words(run);
    // words: env, K=V..., remote_joulebench, measure, ...: --json "$f" --samples "$t" go right
    // after measure.
    const std::size_t measure_at = 2 + run.env.size();
    std::string measure;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) measure += ' ';
        measure += shell_quote(words[i]);
        if (i == measure_at) measure += " --json \"$f\" --samples \"$t\"";
    }
    const auto grace_s = std::max<long long>(1, (run.kill_grace.count() + 999) / 1000);
    // Written for POSIX sh (dash, bash --posix, busybox). Why each step is there: ssh_remote.hpp.
    std::string s;
    s += "exec 3<&0 </dev/null\n";
    s += "printf '%s\\n' " + shell_quote(start_line(run.nonce)) + "\n";
    s += "rc=125\n";
    s += "n=0\n";
    s += "m=0\n";
    s += "f=\n";
    s += "t=\n";
    s += "if f=$(mktemp \"${TMPDIR:-/tmp}/joulebench-ssh.XXXXXXXXXX\") &&\n";
    s += "   t=$(mktemp \"${TMPDIR:-/tmp}/joulebench-ssh.XXXXXXXXXX\"); then\n";
    // Started before the trap below: measure and the workload keep the default dispositions.
    s += "  " + measure + " 3<&- &\n";
    s += "  p=$!\n";
    // This shell and the watcher survive the group-wide SIGTERMs they send.
    s += "  trap '' HUP INT TERM\n";
    s += "  { while read -r _ <&3; do :; done; exec 3<&-; kill -TERM 0; sleep " +
         std::to_string(grace_s) + "; rm -f \"$f\" \"$t\"; kill -KILL 0; } >/dev/null 2>&1 &\n";
    s += "  exec 3<&-\n";
    s += "  wait \"$p\"\n";
    s += "  rc=$?\n";
    // What the workload left behind in the session's group does not outlive the run.
    s += "  kill -TERM 0 2>/dev/null\n";
    s += "  if [ -s \"$f\" ]; then n=$(wc -c <\"$f\"); n=$((n + 0)); fi\n";
    s += "  if [ -s \"$t\" ]; then m=$(wc -c <\"$t\"); m=$((m + 0)); fi\n";
    s += "else\n";
    s += "  echo 'joulebench-ssh: cannot create a temporary file in '\"${TMPDIR:-/tmp}\" >&2\n";
    s += "fi\n";
    s += "printf '\\n%s%s:%s:%s\\n' " + shell_quote(end_line_prefix(run.nonce)) +
         " \"$rc\" \"$n\" \"$m\"\n";
    s += "if [ \"$n\" -gt 0 ]; then cat \"$f\"; fi\n";
    s += "if [ \"$m\" -gt 0 ]; then cat \"$t\"; fi\n";
    s += "rm -f \"$f\" \"$t\"\n";
    s += "exit \"$rc\"\n";
    return s;
}

std::string remote_command(const RemoteRun& run) {
    return "exec sh -c " + shell_quote(remote_script(run));
}

// ---------------------------------------------------------------------------------------------

OutputDemux::OutputDemux(std::string_view nonce, Sink body, std::size_t max_json_bytes, Sink trace)
    : m_start(start_line(nonce) + "\n"),
      m_end("\n" + end_line_prefix(nonce)),
      m_sink(std::move(body)),
      m_trace_sink(std::move(trace)),
      m_max_json(max_json_bytes) {}

void OutputDemux::body(std::string_view data) {
    if (!data.empty() && m_sink) m_sink(data);
}

void OutputDemux::feed(std::string_view data) {
    while (!data.empty()) {
        switch (m_state) {
            case State::kPreamble: {
                m_pending.append(data);
                data = {};
                const auto at = m_pending.find(m_start);
                if (at == std::string::npos) {
                    // Keep only what could still be the start of the start line.
                    if (m_pending.size() >= m_start.size()) {
                        const std::size_t drop = m_pending.size() - (m_start.size() - 1);
                        if (m_preamble_text.size() < kPreambleTextBytes) {
                            m_preamble_text.append(
                                m_pending, 0,
                                std::min(drop, kPreambleTextBytes - m_preamble_text.size()));
                        }
                        m_preamble_bytes += drop;
                        m_pending.erase(0, drop);
                    }
                    break;
                }
                if (m_preamble_text.size() < kPreambleTextBytes) {
                    m_preamble_text.append(
                        m_pending, 0, std::min(at, kPreambleTextBytes - m_preamble_text.size()));
                }
                m_preamble_bytes += at;
                m_started = true;
                m_state = State::kBody;
                // The rest is fed again from a copy: m_pending is reused as the body hold-back.
                const std::string rest = m_pending.substr(at + m_start.size());
                m_pending.clear();
                feed(rest);
                return;
            }
            case State::kBody: {
                std::string buffer = std::move(m_pending);
                m_pending.clear();
                buffer.append(data);
                data = {};
                const auto at = buffer.find(m_end);
                if (at != std::string::npos) {
                    body(std::string_view(buffer).substr(0, at));
                    m_state = State::kEndLine;
                    const std::string rest = buffer.substr(at + m_end.size());
                    feed(rest);
                    return;
                }
                // Hold back the longest tail that could be the beginning of the end line.
                std::size_t keep = std::min(buffer.size(), m_end.size() - 1);
                while (keep > 0 && std::string_view(buffer).substr(buffer.size() - keep) !=
                                       std::string_view(m_end).substr(0, keep)) {
                    --keep;
                }
                body(std::string_view(buffer).substr(0, buffer.size() - keep));
                m_pending = buffer.substr(buffer.size() - keep);
                break;
            }
            case State::kEndLine: {
                const auto newline = data.find('\n');
                m_pending.append(data.substr(0, newline));
                if (m_pending.size() > kMaxEndLineBytes) {
                    m_error = "the end line of the remote measurement is malformed (too long)";
                    m_state = State::kBroken;
                    break;
                }
                if (newline == std::string_view::npos) {
                    data = {};
                    break;
                }
                data.remove_prefix(newline + 1);
                // "STATUS:LENGTH:TRACE_LENGTH" (or "STATUS:LENGTH": no trace).
                const std::string line = std::move(m_pending);
                m_pending.clear();
                const auto colon = line.find(':');
                const auto colon2 = colon == std::string::npos ? colon : line.find(':', colon + 1);
                const std::size_t length_end = colon2 == std::string::npos ? line.size() : colon2;
                int status = -1;
                unsigned long long length = 0;
                unsigned long long trace_length = 0;
                bool ok = colon != std::string::npos;
                if (ok) {
                    const char* b = line.data();
                    const auto r1 = std::from_chars(b, b + colon, status);
                    const auto r2 = std::from_chars(b + colon + 1, b + length_end, length);
                    ok = r1.ec == std::errc() && r1.ptr == b + colon && r2.ec == std::errc() &&
                         r2.ptr == b + length_end && status >= 0 && status <= 255;
                    if (ok && colon2 != std::string::npos) {
                        const auto r3 =
                            std::from_chars(b + colon2 + 1, b + line.size(), trace_length);
                        ok = r3.ec == std::errc() && r3.ptr == b + line.size();
                    }
                }
                if (!ok) {
                    m_error = fmt::format(
                        "the end line of the remote measurement is malformed: '{}'", line);
                    m_state = State::kBroken;
                    break;
                }
                m_status = status;
                m_json_length = static_cast<std::size_t>(length);
                m_trace_length = trace_length;
                if (m_json_length > m_max_json) {
                    m_error = fmt::format(
                        "the remote measurement announced {} bytes of JSON, more than the {} "
                        "accepted",
                        m_json_length, m_max_json);
                    m_state = State::kBroken;
                    break;
                }
                m_state = m_json_length > 0    ? State::kJson
                          : m_trace_length > 0 ? State::kTrace
                                               : State::kAfter;
                break;
            }
            case State::kJson: {
                const std::size_t take = std::min(data.size(), m_json_length - m_json.size());
                m_json.append(data.substr(0, take));
                data.remove_prefix(take);
                if (m_json.size() == m_json_length) {
                    m_state = m_trace_length > 0 ? State::kTrace : State::kAfter;
                }
                break;
            }
            case State::kTrace: {
                const auto take = static_cast<std::size_t>(
                    std::min<std::uint64_t>(data.size(), m_trace_length - m_trace_received));
                if (m_trace_sink) m_trace_sink(data.substr(0, take));
                m_trace_received += take;
                data.remove_prefix(take);
                if (m_trace_received == m_trace_length) m_state = State::kAfter;
                break;
            }
            case State::kAfter:
                m_trailing_bytes += data.size();
                body(data);
                data = {};
                break;
            case State::kBroken:
                // Nothing after a broken protocol line can be trusted as a measurement; keep the
                // bytes as output so that nothing is lost.
                body(data);
                data = {};
                break;
        }
    }
}

void OutputDemux::finish() {
    if (m_state == State::kBody) {
        body(m_pending);
        m_pending.clear();
    } else if (m_state == State::kPreamble) {
        if (m_preamble_text.size() < kPreambleTextBytes) {
            m_preamble_text.append(
                m_pending, 0,
                std::min(m_pending.size(), kPreambleTextBytes - m_preamble_text.size()));
        }
        m_preamble_bytes += m_pending.size();
        m_pending.clear();
    }
}

// ---------------------------------------------------------------------------------------------

// A remote run's domain, described for the trace sink; it is measured remotely, never read here.
class TraceCsvParser::Domain final : public Sensor {
public:
    explicit Domain(SensorInfo info) : m_info(std::move(info)) {}
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return std::nullopt; }
    [[nodiscard]] SensorHealth health() const override { return {}; }

private:
    SensorInfo m_info;
};

namespace {

// A cell as a finite number; nullopt for an empty cell. Throws std::invalid_argument naming the
// problem.
template <class T>
std::optional<T> number_cell(std::string_view cell, const std::string& column, int base = 10) {
    if (cell.empty()) return std::nullopt;
    T value{};
    const char* end = cell.data() + cell.size();
    std::from_chars_result r{};
    if constexpr (std::is_floating_point_v<T>) {
        r = std::from_chars(cell.data(), end, value);
    } else {
        r = std::from_chars(cell.data(), end, value, base);
    }
    bool ok = r.ec == std::errc() && r.ptr == end;
    if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(value);
    if (!ok) {
        throw std::invalid_argument(fmt::format("column '{}': '{}' is not {}", column, cell,
                                                std::is_floating_point_v<T> ? "a finite number"
                                                : base == 16                ? "a hexadecimal number"
                                                                            : "a whole number"));
    }
    return value;
}

}  // namespace

TraceCsvParser::TraceCsvParser(TraceSink& sink, std::vector<SensorInfo> domains)
    : m_sink(sink), m_infos(std::move(domains)) {
    // What the remote `measure --samples` writes for these domains.
    m_columns = csv_trace_columns(m_infos);
    for (const auto& info : m_infos) m_is_gpu.push_back(info.kind == DomainKind::kGpu);
    m_values.resize(m_infos.size());
    m_telemetry.resize(m_infos.size());
}

TraceCsvParser::~TraceCsvParser() = default;

void TraceCsvParser::fail(std::string problem) {
    if (m_error.empty()) m_error = fmt::format("line {}: {}", m_line, problem);
}

void TraceCsvParser::feed(std::string_view data) noexcept {
    if (!m_error.empty() || m_finished) return;
    try {
        while (!data.empty() && m_error.empty()) {
            const auto newline = data.find('\n');
            const std::string_view part = data.substr(0, newline);
            if (m_pending.size() + part.size() > kMaxLineBytes) {
                ++m_line;
                fail(fmt::format("longer than {} bytes: not a trace row", kMaxLineBytes));
                return;
            }
            if (newline == std::string_view::npos) {
                m_pending.append(part);
                return;
            }
            data.remove_prefix(newline + 1);
            ++m_line;
            if (m_pending.empty()) {
                line(part);
            } else {
                m_pending.append(part);
                const std::string whole = std::move(m_pending);
                m_pending.clear();
                line(whole);
            }
        }
    } catch (const std::exception& e) {
        fail(e.what());  // allocation failure: the rows so far stay
    }
}

void TraceCsvParser::finish() noexcept {
    if (m_finished) return;
    if (m_error.empty()) {
        if (!m_pending.empty()) {
            ++m_line;
            fail("the line has no line break: the trace was cut off");
        } else if (m_line == 0) {
            m_line = 1;
            fail("no header line: the trace is empty");
        }
    }
    m_finished = true;
    if (m_begun) m_sink.end();
}

void TraceCsvParser::line(std::string_view text) {
    // The remote measure writes these lines itself (CsvTraceSink) without quoting: ids and numbers
    // hold no comma or quote. So a plain split is exact, and a quote is refused rather than
    // interpreted (common/csv_reader reads whole texts held in memory; this reads a stream).
    std::vector<std::string_view> fields;
    fields.reserve(m_columns.size());
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        fields.push_back(
            text.substr(start, comma == std::string_view::npos ? comma : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    if (text.find('"') != std::string_view::npos) {
        fail("a quote ('\"'): the remote trace is written without quoting");
        return;
    }
    if (m_line == 1) {
        header(fields);
    } else {
        row(fields);
    }
}

void TraceCsvParser::header(const std::vector<std::string_view>& fields) {
    for (std::size_t i = 0; i < std::max(fields.size(), m_columns.size()); ++i) {
        if (i < fields.size() && i < m_columns.size() && fields[i] == m_columns[i]) continue;
        std::vector<std::string> ids;
        for (const auto& info : m_infos) ids.push_back(info.id);
        const std::string expected =
            fmt::format("(the measurement's domains are {})",
                        ids.empty() ? "none" : fmt::format("{}", fmt::join(ids, ", ")));
        if (i >= fields.size()) {
            fail(fmt::format("the header has {} columns, {} expected: '{}' is missing {}",
                             fields.size(), m_columns.size(), m_columns[i], expected));
        } else if (i >= m_columns.size()) {
            fail(
                fmt::format("the header has {} columns, {} expected: column {} '{}' is not one "
                            "{}",
                            fields.size(), m_columns.size(), i + 1, fields[i], expected));
        } else {
            fail(fmt::format("header column {} is '{}', '{}' expected {}", i + 1, fields[i],
                             m_columns[i], expected));
        }
        return;
    }
    for (const auto& info : m_infos) m_domains.push_back(std::make_unique<Domain>(info));
    std::vector<const Sensor*> view;
    for (const auto& d : m_domains) view.push_back(d.get());
    m_sink.begin(view);
    m_begun = true;
}

void TraceCsvParser::row(const std::vector<std::string_view>& fields) {
    if (fields.size() != m_columns.size()) {
        fail(fmt::format("{} fields, the header has {}", fields.size(), m_columns.size()));
        return;
    }
    try {
        const auto time = number_cell<double>(fields[0], m_columns[0]);
        if (!time) throw std::invalid_argument("column 'time_s' is empty");
        if (*time < 0.0) {
            throw std::invalid_argument(fmt::format("time_s {} is negative", fields[0]));
        }
        if (m_last_time && *time < *m_last_time) {
            throw std::invalid_argument(
                fmt::format("time_s {} is before the previous row's {}", fields[0], *m_last_time));
        }
        std::size_t at = 1;
        for (std::size_t i = 0; i < m_infos.size(); ++i, at += 2) {
            const auto power = number_cell<double>(fields[at], m_columns[at]);
            const auto energy = number_cell<double>(fields[at + 1], m_columns[at + 1]);
            if (power && !energy) {
                throw std::invalid_argument(fmt::format("column '{}' has a value but '{}' is empty",
                                                        m_columns[at], m_columns[at + 1]));
            }
            auto& v = m_values[i];
            v.valid = energy.has_value();  // both empty: a failed read, a gap
            v.energy_j = energy.value_or(0.0);
            v.power_w = power;
        }
        for (std::size_t i = 0; i < m_infos.size(); ++i) {
            m_telemetry[i].reset();
            if (!m_is_gpu[i]) continue;
            GpuTelemetry t;
            t.utilisation_pct = number_cell<unsigned>(fields[at], m_columns[at]);
            t.temperature_c = number_cell<double>(fields[at + 1], m_columns[at + 1]);
            t.sm_clock_mhz = number_cell<unsigned>(fields[at + 2], m_columns[at + 2]);
            const std::string_view throttle = fields[at + 3];
            if (!throttle.empty()) {
                if (throttle.size() < 3 || throttle.substr(0, 2) != "0x") {
                    throw std::invalid_argument(fmt::format(
                        "column '{}': '{}' is not a 0x... bit mask", m_columns[at + 3], throttle));
                }
                t.throttle_reasons =
                    number_cell<std::uint64_t>(throttle.substr(2), m_columns[at + 3], 16);
            }
            if (const auto limit = number_cell<double>(fields[at + 4], m_columns[at + 4])) {
                t.enforced_limit = Watts(*limit);
            }
            const bool any = t.utilisation_pct || t.temperature_c || t.sm_clock_mhz ||
                             t.throttle_reasons || t.enforced_limit;
            if (any) m_telemetry[i] = t;
            at += kTraceTelemetryColumns.size();
        }
        m_last_time = time;
    } catch (const std::invalid_argument& e) {
        fail(e.what());
        return;
    }
    m_sink.row(*m_last_time, m_values, m_telemetry);
    ++m_rows;
}

}  // namespace joulebench::environments::ssh
