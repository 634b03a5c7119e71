// What ssh brings back from a remote run (the remote trace protocol, src/environments/
// ssh_remote.hpp): the workload's output, then `@joulebench-ssh:NONCE:end:STATUS:LENGTH:
// TRACE_LENGTH`, the measurement's JSON and its CSV trace, split by OutputDemux and read by
// RemoteOutput (measure_from_json, TraceCsvParser) exactly as an ssh run reads them. The first
// byte of the input chooses the size of the chunks the rest arrives in (ssh's reads split it
// anywhere). Nothing here may throw: problems are recorded as the run's errors.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

#include "environments/ssh_run.hpp"
#include "fuzz_support.hpp"

namespace {

constexpr std::string_view kNonce = "0123456789abcdef0123456789abcdef";

// Checks the calls a TraceSink is promised: begin() once, then rows, then end() once.
class CheckingSink final : public joulebench::TraceSink {
public:
    void begin(const std::vector<const joulebench::Sensor*>& sensors) override {
        if (m_begun) joulebench::fuzz::finding("trace sink", "begin() twice");
        m_begun = true;
        m_domains = sensors.size();
    }
    void row(
        double /*t_s*/, const std::vector<joulebench::TraceDomainValue>& domains,
        const std::vector<std::optional<joulebench::GpuTelemetry>>& telemetry) noexcept override {
        if (!m_begun || m_ended) joulebench::fuzz::finding("trace sink", "row() outside begin/end");
        if (domains.size() != m_domains || telemetry.size() != m_domains) {
            joulebench::fuzz::finding("trace sink", "row() with another number of domains");
        }
    }
    void end() noexcept override {
        if (!m_begun || m_ended) joulebench::fuzz::finding("trace sink", "end() without begin()");
        m_ended = true;
    }

private:
    bool m_begun = false;
    bool m_ended = false;
    std::size_t m_domains = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (size == 0) return 0;
    const std::size_t chunk = std::size_t{data[0]} * 16 + 1;
    std::string_view rest = joulebench::fuzz::as_text(data + 1, size - 1);
    joulebench::fuzz::expect_clean([&] {
        CheckingSink sink;
        joulebench::environments::ssh::RemoteOutput output(kNonce, null_fd, &sink);
        while (!rest.empty()) {
            const std::size_t n = std::min(chunk, rest.size());
            output.feed(rest.substr(0, n));
            rest.remove_prefix(n);
        }
        output.finish();
        if (output.demux().json_complete()) (void)output.measurement();
    });
    return 0;
}
