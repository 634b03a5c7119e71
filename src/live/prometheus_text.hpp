#pragma once
// A LiveSnapshot in the Prometheus text exposition format (version 0.0.4): every family with its
// HELP and TYPE lines, its samples together, names with their units (docs/live.md lists them).

#include <optional>
#include <string>

#include "live/live_state.hpp"

namespace joulebench::live {

/// The process's own standard metrics (process_cpu_seconds_total, ...), read from /proc/self.
struct ProcessNow {
    std::optional<double> cpu_s;
    std::optional<double> resident_bytes;
    std::optional<double> start_time_s;  ///< Unix time
};
[[nodiscard]] ProcessNow read_process_now();

/// The content type of the format.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

[[nodiscard]] std::string prometheus_text(const LiveSnapshot& snapshot, const ProcessNow& process);

/// A label value escaped as the format wants (backslash, double quote, line feed).
[[nodiscard]] std::string escape_label_value(const std::string& value);

}  // namespace joulebench::live
