#pragma once
// The `ssh` environment: the workload runs on a remote host or VM (how a KVM guest with a
// passed-through GPU is measured) under `joulebench measure` there, where the sensors are; the
// remote JSON document comes back and is the run's measurement (measures_itself()). Caps are set
// and restored there by the remote measure and its guardian. The protocol, the quoting and how
// the remote workload is ended are in ssh_remote.hpp and docs/ssh.md; the local side of one run
// (the local ssh, its session, the run's result from what came back) in ssh_run.hpp.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "environments/environment.hpp"

namespace joulebench::environments {

class SshEnvironment final : public Environment {
public:
    explicit SshEnvironment(EnvironmentSpec spec) : m_spec(std::move(spec)) {}

    [[nodiscard]] const EnvironmentSpec& spec() const override { return m_spec; }

    /// Checks, once per environment, that the host answers without a prompt and runs the remote
    /// joulebench (`REMOTE_JOULEBENCH --version`), then that the workload's command resolves on
    /// the remote PATH. Throws Error "run: FILE:LINE: environment 'E': ..." naming the host and
    /// ssh's own message (kNotFound, kIo, kInvalidArgument).
    void validate(const WorkloadSpec& workload) const override;

    /// Records the remote joulebench version, `uname -a` and a summary of
    /// `joulebench sensors --json` for describe(). Throws Error when the host cannot be reached.
    void prepare() override;

    [[nodiscard]] bool measures_itself() const override { return true; }

    /// {"type":"ssh","host":..,"user":..,"port":..,"remote_joulebench":..,"remote_version":..,
    ///  "remote_uname":..,"remote_sensors":[..]} (what prepare() found).
    [[nodiscard]] std::string describe() const override;
    /// Checks the caps against the limits the remote `joulebench sensors --json` reported in
    /// prepare() (the remote measure sets them).
    void check_caps(const std::vector<double>& gpu_caps_w, const std::vector<double>& cpu_caps_w,
                    const std::vector<int>& gpus) const override;

    /// Runs the instance remotely; `observer` is not called (no local process of the workload).
    /// On timeout or stop the session's stdin is closed (the remote side then ends the workload,
    /// docs/ssh.md), and the local ssh gets SIGTERM, then SIGKILL, if it does not end by itself.
    /// The workload's stdout and stderr go to the instance's files; the remote measurement is
    /// returned in InstanceResult::measured. Never throws for a run that fails.
    InstanceResult execute(const WorkloadInstance& instance, InstanceObserver* observer) override;

    void tear_down() noexcept override {}

    /// The ssh client argv that runs `remote_command` on the host (exposed for tests):
    /// `ssh -o BatchMode=yes [-o OPTION]... -o ServerAliveInterval=15 -o ServerAliveCountMax=4
    ///  -o ConnectTimeout=30 -o LogLevel=ERROR -T [-p PORT] [-i IDENTITY] [-l USER] HOST --
    ///  REMOTE_COMMAND`, the spec's ssh_options first so that they override the defaults after
    /// them (ssh keeps the first value of each option).
    [[nodiscard]] std::vector<std::string> ssh_argv(const std::string& remote_command) const;

    /// How long the one-off checks of validate() and prepare() may take.
    static constexpr std::chrono::seconds kCheckTimeout{60};
    /// After the remote side was told to end the workload, how long beyond the kill grace the
    /// local ssh is given to bring the measurement back before it gets SIGTERM.
    static constexpr std::chrono::seconds kRemoteMargin{5};

private:
    [[nodiscard]] std::string where() const;

    EnvironmentSpec m_spec;
    mutable std::mutex m_mutex;
    mutable std::optional<std::string> m_remote_version;  // validate()'s cached answer
    std::string m_description;
    std::string m_remote_sensors;  ///< the remote `joulebench sensors --json` document, whole
};

}  // namespace joulebench::environments
