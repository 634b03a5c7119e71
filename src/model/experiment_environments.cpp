// The experiment file's [[environment]] tables: bare, docker/podman (image, run_args), ssh
// (host, user, port, identity file, remote joulebench, ssh options) and vm (its own keys are read
// in experiment_vm.cpp).

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

#include "model/did_you_mean.hpp"
#include "model/experiment_parser.hpp"

namespace joulebench {

namespace {

bool is_container(EnvironmentType type) {
    return type == EnvironmentType::kDocker || type == EnvironmentType::kPodman;
}

// Which environment types each type-specific key applies to, and the hint of a misplaced one.
struct TypedKey {
    std::string_view key;
    bool container;
    bool ssh;
    bool vm;
};

constexpr TypedKey kTypedKeys[] = {
    {"image", true, false, true},          {"run_args", true, false, false},
    {"host", false, true, false},          {"port", false, true, false},
    {"remote_joulebench", false, true, false}, {"ssh_options", false, true, false},
    {"user", false, true, true},           {"identity_file", false, true, true},
    {"kernel", false, false, true},        {"initrd", false, false, true},
    {"append", false, false, true},        {"accel", false, false, true},
    {"cpus", false, false, true},          {"memory", false, false, true},
    {"gpus", false, false, true},          {"share", false, false, true},
    {"boot", false, false, true},          {"boot_timeout", false, false, true},
    {"persistent", false, false, true},    {"qemu_args", false, false, true},
    {"qemu", false, false, true},          {"libvirt_domain", false, false, true},
};

std::string types_of(const TypedKey& k) {
    std::vector<std::string> types;
    if (k.container) {
        types.emplace_back("docker");
        types.emplace_back("podman");
    }
    if (k.ssh) types.emplace_back("ssh");
    if (k.vm) types.emplace_back("vm");
    std::string out;
    for (std::size_t i = 0; i < types.size(); ++i) {
        out += (i == 0 ? "" : i + 1 == types.size() ? " and " : ", ") + types[i];
    }
    return out;
}

}  // namespace

void ExperimentParser::parse_environments(const toml::table& root, ExperimentSpec& spec) const {
    const toml::array* array = array_of_tables(root, "environment");
    if (array == nullptr) {
        EnvironmentSpec bare;
        bare.name = "bare";
        bare.where = SourceLocation{m_file, 0, 0};
        spec.environments.push_back(std::move(bare));
        return;
    }
    std::set<std::string> names;
    for (const auto& element : *array) {
        spec.environments.push_back(environment(*element.as_table(), names));
    }
}

EnvironmentSpec ExperimentParser::environment(const toml::table& t,
                                              std::set<std::string>& names) const {
    const SourceLocation loc = at(t);
    std::vector<std::string_view> allowed = {"name", "type"};
    for (const auto& k : kTypedKeys) allowed.push_back(k.key);
    check_keys(t, "[[environment]]", allowed);
    EnvironmentSpec e;
    e.where = loc;
    e.name = unique_name(t, "environment", loc, names);
    const std::string where_name = fmt::format("environment '{}'", e.name);
    const toml::node& type = require(t, "type", where_name, loc);
    const std::string type_text = string_value(type, "type");
    const auto parsed = environment_type_from_string(type_text);
    if (!parsed) {
        fail(at(type), fmt::format("unknown environment type '{}'", type_text),
             did_you_mean(type_text, {"bare", "docker", "podman", "ssh", "vm"},
                          "use bare, docker, podman, ssh or vm"));
    }
    e.type = *parsed;
    check_type_keys(t, e.type, type_text);
    if (is_container(e.type)) parse_container_keys(t, where_name, type_text, e);
    if (e.type == EnvironmentType::kSsh) parse_ssh_keys(t, where_name, e);
    if (e.type == EnvironmentType::kVm) parse_vm_keys(t, where_name, e);
    return e;
}

// Keys of another type are errors, not silently ignored: a user who wrote `image` for an ssh
// environment expects it to be used.
void ExperimentParser::check_type_keys(const toml::table& t, EnvironmentType type,
                                       const std::string& type_text) const {
    const bool container = is_container(type);
    const bool ssh = type == EnvironmentType::kSsh;
    const bool vm = type == EnvironmentType::kVm;
    for (const auto& [key, value] : t) {
        const std::string_view k = key.str();
        for (const auto& typed : kTypedKeys) {
            if (typed.key != k) continue;
            if ((typed.container && container) || (typed.ssh && ssh) || (typed.vm && vm)) break;
            fail(at(value),
                 fmt::format("key '{}' does not apply to environment type '{}'", k, type_text),
                 fmt::format("{} is for {}", k, types_of(typed)));
        }
    }
}

namespace {

// An image reference as docker and podman accept it (the grammar of
// github.com/distribution/reference): [registry[:port]/]path[:tag][@digest], the path's
// components lower-case; or an image id (12 to 64 hex digits, or sha256:<64 hex>). Anything
// else, above all a name starting with '-', would reach the engine's command line as an option.
bool valid_image_reference(const std::string& image) {
    static const std::regex kId("(sha256:)?[0-9a-f]{12,64}");
    static const std::regex kReference(
        "(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
        "(:[0-9]+)?/)?"
        "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*"
        "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
        "(@[a-z0-9]+([+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?");
    if (image.size() > 255) return false;
    return std::regex_match(image, kId) || std::regex_match(image, kReference);
}

}  // namespace

void ExperimentParser::parse_container_keys(const toml::table& t, const std::string& where_name,
                                            const std::string& type_text,
                                            EnvironmentSpec& e) const {
    const toml::node& image = require(t, "image", where_name + " (type " + type_text + ")", e.where);
    e.image = name_value(image, "image");
    if (!valid_image_reference(e.image)) {
        fail(at(image), fmt::format("image '{}' is not an image name {} would accept", e.image,
                                    type_text),
             "write [registry/]name[:tag][@sha256:digest], the name in lower case (e.g. "
             "\"joulebench/debian-cpu:latest\"), or an image id");
    }
    if (const toml::node* args = t.get("run_args")) e.run_args = string_array(*args, "run_args");
}

void ExperimentParser::parse_ssh_keys(const toml::table& t, const std::string& where_name,
                                      EnvironmentSpec& e) const {
    e.host = name_value(require(t, "host", where_name + " (type ssh)", e.where), "host");
    if (const toml::node* user = t.get("user")) e.user = name_value(*user, "user");
    if (const toml::node* port = t.get("port")) {
        const std::int64_t p = integer_value(*port, "port");
        if (p < 1 || p > 65535) fail(at(*port), fmt::format("port {} is not in 1..65535", p));
        e.port = static_cast<int>(p);
    }
    if (const toml::node* id = t.get("identity_file")) {
        e.identity_file = name_value(*id, "identity_file");
    }
    e.remote_joulebench = "joulebench";
    if (const toml::node* remote = t.get("remote_joulebench")) {
        e.remote_joulebench = name_value(*remote, "remote_joulebench");
    }
    if (const toml::node* options = t.get("ssh_options")) {
        e.ssh_options = string_array(*options, "ssh_options");
        for (const auto& option : e.ssh_options) check_ssh_option(*options, option);
    }
}

// An ssh_options entry: "Name=value" as ssh -o takes it. Free-form words are refused (a word
// without '=' would become ssh's host name or the remote command), and so are the options the ssh
// environment sets itself or that would break its protocol (docs/ssh.md).
void ExperimentParser::check_ssh_option(const toml::node& node, const std::string& option) const {
    const auto eq = option.find('=');
    const std::string name = option.substr(0, eq);
    const bool valid_name =
        !name.empty() && std::isalpha(static_cast<unsigned char>(name[0])) != 0 &&
        std::all_of(name.begin(), name.end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
    if (eq == std::string::npos || !valid_name || eq + 1 == option.size() ||
        option.find_first_of("\n\r") != std::string::npos) {
        fail(at(node), fmt::format("ssh_options entry '{}' is not of the form Name=value", option),
             "write each option as in ssh_config(5), e.g. \"ProxyJump=gateway\"; it is passed to "
             "ssh as -o Name=value");
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const std::string_view owned :
         {"batchmode", "requesttty", "remotecommand", "sessiontype", "stdinnull",
          "forkafterauthentication", "controlmaster", "controlpersist"}) {
        if (lower == owned) {
            fail(at(node),
                 fmt::format("ssh_options: '{}' cannot be set: the ssh environment sets it itself "
                             "or it would break how the run's output comes back",
                             name),
                 "see docs/ssh.md for the options joulebench passes to ssh");
        }
    }
}

}  // namespace joulebench
