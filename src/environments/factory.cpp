#include "environments/factory.hpp"

#include <fmt/format.h>

#include "joulebench/error.hpp"
#include "environments/bare_environment.hpp"
#include "environments/ssh_environment.hpp"
#include "environments/container_environment.hpp"
#include "environments/vm_environment.hpp"

namespace joulebench::environments {

std::unique_ptr<Environment> make_environment(const EnvironmentSpec& spec) {
    switch (spec.type) {
        case EnvironmentType::kBare:
            return std::make_unique<BareEnvironment>(spec);
        case EnvironmentType::kSsh:
            return std::make_unique<SshEnvironment>(spec);
        case EnvironmentType::kDocker:
        case EnvironmentType::kPodman:
            return std::make_unique<ContainerEnvironment>(spec);
        case EnvironmentType::kVm:
            return std::make_unique<VmEnvironment>(spec);
        default:
            break;
    }
    throw Error(ErrorCategory::kNotSupported,
                fmt::format("run: {}environment '{}': type \"{}\" is not supported by this "
                            "joulebench yet",
                            to_string(spec.where), spec.name, to_string(spec.type)));
}

}  // namespace joulebench::environments
