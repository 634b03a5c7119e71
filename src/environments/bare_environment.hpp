#pragma once
// The `bare` environment: the workload runs as a child process of joulebench on this machine,
// started directly (posix_spawn, no shell), in its own process group so that a timeout or an
// interruption ends everything it started, with its standard output and error in files.

#include "environments/environment.hpp"

namespace joulebench::environments {

class BareEnvironment final : public Environment {
public:
    explicit BareEnvironment(EnvironmentSpec spec) : m_spec(std::move(spec)) {}

    [[nodiscard]] const EnvironmentSpec& spec() const override { return m_spec; }
    /// The command must resolve like execvp would. Throws Error (kNotFound, kNoPermission)
    /// "run: FILE:LINE: workload NAME: ...".
    void validate(const WorkloadSpec& workload) const override;
    /// Nothing to prepare.
    void prepare() override {}
    InstanceResult execute(const WorkloadInstance& instance, InstanceObserver* observer) override;
    void tear_down() noexcept override {}

private:
    EnvironmentSpec m_spec;
};

}  // namespace joulebench::environments
