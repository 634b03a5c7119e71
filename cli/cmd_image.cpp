// `joulebench image inspect IMAGE [--engine docker|podman] [--json] [--no-probe] [--no-trunc]`:
// the audit of a container image (size, layers, base, environment, entrypoint, Python, PyTorch
// and CUDA inside), as stored with every run that uses the image.

#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "images/image_inspect.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {

namespace {

std::string argv_text(const std::vector<std::string>& argv) {
    if (argv.empty()) return "(none)";
    return nlohmann::json(argv).dump();
}

std::string shorten(const std::string& text, std::size_t width, bool no_trunc) {
    std::string one_line = text;
    std::replace(one_line.begin(), one_line.end(), '\n', ' ');
    std::replace(one_line.begin(), one_line.end(), '\t', ' ');
    if (no_trunc || one_line.size() <= width) return one_line;
    return one_line.substr(0, width - 3) + "...";
}

// The id as `docker history` shows it: 12 hex digits without the algorithm.
std::string short_id(const std::string& id) {
    if (id.empty()) return "<missing>";
    const auto colon = id.find(':');
    const std::string hex = colon == std::string::npos ? id : id.substr(colon + 1);
    if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) return id;
    return hex.substr(0, 12);
}

std::string optional_text(const std::optional<std::string>& v, const std::string& otherwise) {
    return v ? *v : otherwise;
}

void print_human(const images::ImageInfo& info, bool no_trunc) {
    const auto row = [](std::string_view key, const std::string& value) {
        fmt::print("{:<13}{}\n", key, value);
    };
    row("image", fmt::format("{} ({}{})", info.reference, info.engine,
                             info.engine_version.empty() ? "" : " " + info.engine_version));
    row("id", info.id);
    if (!info.repo_tags.empty()) {
        std::string tags;
        for (const auto& t : info.repo_tags) tags += (tags.empty() ? "" : ", ") + t;
        row("tags", tags);
    }
    row("created", info.created);
    row("platform", info.os + "/" + info.architecture);
    row("size",
        fmt::format("{} ({} bytes, {} filesystem layers)", images::human_size(info.size_bytes),
                    info.size_bytes, info.rootfs_layers));
    row("base", info.base.name.empty()
                    ? std::string("unknown")
                    : fmt::format("{} ({})", shorten(info.base.name, 70, no_trunc),
                                  images::to_string(info.base.source)));
    row("entrypoint", argv_text(info.entrypoint));
    row("cmd", argv_text(info.cmd));
    if (!info.working_dir.empty()) row("workdir", info.working_dir);
    if (!info.user.empty()) row("user", info.user);

    const images::SoftwareProbe& s = info.software;
    switch (s.status) {
        case images::SoftwareProbe::Status::kSkipped:
            row("software", "not probed (--no-probe)");
            break;
        case images::SoftwareProbe::Status::kNoPython:
        case images::SoftwareProbe::Status::kFailed:
            row("python", s.message);
            break;
        case images::SoftwareProbe::Status::kOk: {
            row("python", optional_text(s.python, "unknown") +
                              (s.python_executable ? " (" + *s.python_executable + ")" : ""));
            std::string torch = optional_text(s.torch, s.torch_error);
            if (s.torch) {
                torch += s.torch_cuda ? ", built for CUDA " + *s.torch_cuda : ", CPU-only build";
                if (s.cudnn) torch += ", cuDNN " + *s.cudnn;
            }
            row("torch", torch);
            row("torchvision", optional_text(s.torchvision, s.torchvision_error));
            std::string cuda = s.cuda_toolkit ? *s.cuda_toolkit + " (" + s.cuda_toolkit_source + ")"
                                              : std::string("no CUDA toolkit found");
            if (!s.cudart.empty()) {
                cuda += "; libcudart: ";
                for (std::size_t i = 0; i < s.cudart.size(); ++i)
                    cuda += (i == 0 ? "" : ", ") + s.cudart[i];
            }
            row("cuda", cuda);
            if (!s.message.empty()) row("probe", s.message);
            break;
        }
    }

    // The layers, as `docker history` prints them (newest first).
    fmt::print("\nLAYERS (newest first)\n");
    std::size_t created_width = 7;
    for (const auto& l : info.layers) created_width = std::max(created_width, l.created.size());
    fmt::print("{:<12}  {:<{}}  {:>8}  {}\n", "IMAGE", "CREATED", created_width, "SIZE",
               "CREATED BY");
    for (const auto& l : info.layers) {
        std::string by = l.created_by.empty() ? l.comment : l.created_by;
        fmt::print("{:<12}  {:<{}}  {:>8}  {}\n", short_id(l.id), l.created, created_width,
                   images::human_size(l.size_bytes), shorten(by, 80, no_trunc));
    }

    fmt::print("\nENVIRONMENT (* may change time or energy)\n");
    if (info.env.empty()) fmt::print("  (none)\n");
    std::size_t width = 0;
    for (const auto& v : info.env) {
        if (!v.relevance.empty()) width = std::max(width, v.name.size() + 1 + v.value.size());
    }
    width = std::min<std::size_t>(width, 60);
    for (const auto& v : info.env) {
        const std::string entry = v.name + "=" + v.value;
        if (v.relevance.empty()) {
            fmt::print("  {}\n", shorten(entry, 100, no_trunc));
        } else {
            fmt::print("* {:<{}}  {}\n", shorten(entry, 100, no_trunc), width, v.relevance);
        }
    }
    if (!info.labels.empty()) {
        fmt::print("\nLABELS\n");
        for (const auto& [k, v] : info.labels)
            fmt::print("  {}={}\n", k, shorten(v, 100, no_trunc));
    }
}

}  // namespace

void add_image_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string image;
        std::string engine;
        bool json = false;
        bool no_probe = false;
        bool no_trunc = false;
    };
    auto opts = std::make_shared<Options>();
    auto* image = app.add_subcommand("image", "Audit container images");
    image->require_subcommand(1);
    auto* inspect = image->add_subcommand("inspect",
                                          "Size, layers, base image, environment and the "
                                          "Python/PyTorch/CUDA versions inside an image");
    inspect->add_option("image", opts->image, "Image name[:tag], digest or id (never pulled)")
        ->required();
    inspect
        ->add_option("--engine", opts->engine,
                     "Container engine (default: docker if installed, else podman)")
        ->check(CLI::IsMember({"docker", "podman"}));
    inspect->add_flag("--json", opts->json, "Print the audit as JSON (schema joulebench.image/1)");
    inspect->add_flag("--no-probe", opts->no_probe,
                      "Do not start a probe container for the Python, PyTorch and CUDA versions");
    inspect->add_flag("--no-trunc", opts->no_trunc, "Do not shorten commands and values");
    inspect->callback([opts, &ctx] {
        const std::string engine = opts->engine.empty() ? images::default_engine() : opts->engine;
        images::InspectOptions options;
        options.probe = !opts->no_probe;
        const images::ImageInfo info = images::inspect_image(engine, opts->image, options);
        if (opts->json) {
            fmt::print("{}\n", images::to_json(info).dump(2));
        } else {
            print_human(info, opts->no_trunc);
        }
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
