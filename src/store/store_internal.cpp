#include <fmt/core.h>

#include <bit>

#include "store/store_internal.hpp"

namespace joulebench::store_detail {

bool is_end_status(RunStatus s) {
    return s == RunStatus::kDone || s == RunStatus::kFailed || s == RunStatus::kTimeout ||
           s == RunStatus::kInterrupted;
}

std::string status_list_sql(const std::vector<RunStatus>& statuses) {
    std::string list;
    for (const RunStatus s : statuses) {
        list += fmt::format("{}'{}'", list.empty() ? "" : ", ", to_string(s));
    }
    return list;
}

const char* const kRunColumns =
    "run_id, plan_index, workload, environment, gpu_cap_w, cpu_cap_w, repetition, status, attempt, "
    "gpu, "
    "session_id, started_at, ended_at, exit_code, signal, wall_s, energy_j, gpu_energy_j, "
    "cpu_energy_j, "
    "edp_js, ed2p_js2, idle_power_w, net_energy_j, caps_json, warnings_json, phases_json, "
    "stderr_tail, "
    "metrics_json, measure_json, coalesce(total_includes_estimate, 0), "
    "EXISTS (SELECT 1 FROM run_domains d WHERE d.run_id = runs.run_id AND d.sharing = "
    "'attributed'), "
    "EXISTS (SELECT 1 FROM run_domains d WHERE d.run_id = runs.run_id AND d.sharing = 'shared'), "
    "instances, start_skew_s";

RunRecord read_run(const Statement& q) {
    RunRecord r;
    r.run_id = q.text(0);
    r.plan_index = q.integer(1);
    r.workload = q.text(2);
    r.environment = q.text(3);
    r.gpu_cap_w = q.opt_real(4);
    r.cpu_cap_w = q.opt_real(5);
    r.repetition = static_cast<unsigned>(q.integer(6));
    r.status = run_status_from_string(q.text(7)).value_or(RunStatus::kPlanned);
    r.attempt = static_cast<unsigned>(q.integer(8));
    if (const auto gpu = q.opt_integer(9)) r.gpu = static_cast<int>(*gpu);
    r.session_id = q.opt_integer(10);
    r.started_at = q.opt_real(11);
    r.ended_at = q.opt_real(12);
    if (const auto code = q.opt_integer(13)) r.exit_code = static_cast<int>(*code);
    if (const auto sig = q.opt_integer(14)) r.signal = static_cast<int>(*sig);
    r.wall_s = q.opt_real(15);
    r.energy_j = q.opt_real(16);
    r.gpu_energy_j = q.opt_real(17);
    r.cpu_energy_j = q.opt_real(18);
    r.edp_js = q.opt_real(19);
    r.ed2p_js2 = q.opt_real(20);
    r.idle_power_w = q.opt_real(21);
    r.net_energy_j = q.opt_real(22);
    r.caps_json = q.text(23);
    r.warnings_json = q.text(24);
    r.phases_json = q.text(25);
    r.stderr_tail = q.text(26);
    r.metrics_json = q.text(27);
    r.measure_json = q.text(28);
    r.total_includes_estimate = q.integer(29) != 0;
    r.cpu_attributed = q.integer(30) != 0;
    r.cpu_shared = q.integer(31) != 0;
    r.instances = static_cast<unsigned>(q.integer(32));
    r.start_skew_s = q.opt_real(33);
    return r;
}

void put_double(std::string& out, double value) {
    const auto bits = std::bit_cast<std::uint64_t>(value);
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
    out.append(bytes, 8);
}

double get_double(const unsigned char* p) {
    std::uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | p[i];
    return std::bit_cast<double>(bits);
}

}  // namespace joulebench::store_detail
