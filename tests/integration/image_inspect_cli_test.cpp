// `joulebench image inspect` and images::inspect_image with real engines: a private dockerd and a
// private Podman store (tests/fakes/container_engine.hpp), the busybox image imported offline
// (no python3: the probe must say so), and images derived from it with `create` + `cp` +
// `commit`: a fake python3 (a busybox sh script printing a known probe line) and environment
// variables, labels, entrypoint and command set through --change. Every value is compared with
// what the engine itself reports (`image inspect --format`, `history --format`), never with
// numbers written into the test. Skipped, with the reason, where an engine is not usable.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fakes/container_engine.hpp"
#include "fakes/test_support.hpp"
#include "images/image_inspect.hpp"
#include "joulebench/error.hpp"

namespace joulebench::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kBusybox = "joulebench-busybox:inspect";
constexpr const char* kFakePython = "joulebench-fakepy:inspect";
constexpr const char* kNoTorch = "joulebench-notorch:inspect";

// What the fake python3 prints. It refuses to print it unless called as the probe is
// (`python3 -c SCRIPT` with the probe's script), so the argv the engine passed is checked too.
constexpr const char* kFakeProbeLine =
    R"({"probe": "joulebench-image-probe/1", "python": "3.99.1", "python_executable": "/usr/bin/python3", "torch": "9.8.7+cu999", "torch_error": null, "torch_cuda": "99.9", "cudnn": "90100", "torchvision": null, "torchvision_error": "not installed", "cuda_toolkit": "99.9.1", "cuda_toolkit_source": "/usr/local/cuda/version.json", "cudart": ["/usr/local/cuda/lib64/libcudart.so.99"]})";
constexpr const char* kNoTorchLine =
    R"({"probe": "joulebench-image-probe/1", "python": "3.12.0", "python_executable": "/usr/bin/python3", "torch": null, "torch_error": "not installed", "torchvision": null, "torchvision_error": "not installed", "torch_cuda": null, "cudnn": null, "cuda_toolkit": null, "cuda_toolkit_source": null, "cudart": []})";

std::string fake_python(const std::string& line) {
    return fmt::format(
        "#!/bin/sh\n"
        "# A fake python3 for joulebench's image tests.\n"
        "[ \"$1\" = \"-c\" ] || {{ echo \"fake python3: expected -c, got $1\" >&2; exit 3; }}\n"
        "case \"$2\" in *joulebench-image-probe/1*) ;; *) echo 'fake python3: not the probe' >&2; "
        "exit 3;; esac\n"
        "echo 'noise before the line'\n"
        "cat <<'EOF'\n{}\nEOF\n",
        line);
}

struct Engine {
    std::string name;
    std::unique_ptr<DockerDaemon> docker;
    std::unique_ptr<PodmanStore> podman;
    std::string skip;

    [[nodiscard]] std::vector<std::string> client() const {
        return docker ? docker->client() : podman->client();
    }
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> env() const {
        return docker ? docker->env() : podman->env();
    }
    std::pair<int, std::string> cmd(const std::vector<std::string>& args) const {
        return engine_command(client(), args, env());
    }
    // Standard output only (engine_command mixes in stderr, which may carry warnings).
    std::string out(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = client();
        argv.insert(argv.end(), args.begin(), args.end());
        test::ProcessOptions options;
        for (const auto& [k, v] : env()) options.env.emplace_back(k, v);
        const auto r = test::run_process(argv, options);
        EXPECT_EQ(r.exit_code, 0) << fmt::format("{}: {}", fmt::join(argv, " "), r.err);
        return r.out;
    }
    std::vector<std::string> lines(const std::vector<std::string>& args) const {
        std::vector<std::string> result;
        std::istringstream in(out(args));
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) result.push_back(line);
        return result;
    }

    // An image made from busybox by copying `python3` in and committing with `changes`.
    void derive(const std::string& image, const std::string& python3,
                const std::vector<std::string>& changes) const {
        const test::TempDir dir("jb-fakepy");
        const fs::path script = dir.path() / "python3";
        test::write_file(script, python3);
        ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
        const std::string container = "jb-derive-" + std::to_string(::getpid());
        auto [rc, text] =
            cmd({"create", "--name", container, "--network", "none", kBusybox, "true"});
        ASSERT_EQ(rc, 0) << text;
        std::tie(rc, text) = cmd({"cp", script.string(), container + ":/bin/python3"});
        ASSERT_EQ(rc, 0) << text;
        std::vector<std::string> commit{"commit"};
        for (const auto& c : changes) {
            commit.emplace_back("--change");
            commit.push_back(c);
        }
        commit.push_back(container);
        commit.push_back(image);
        std::tie(rc, text) = cmd(commit);
        ASSERT_EQ(rc, 0) << text;
        std::tie(rc, text) = cmd({"rm", "-f", container});
        ASSERT_EQ(rc, 0) << text;
    }
};

class ImageInspectTest : public ::testing::TestWithParam<std::string> {
protected:
    // One engine per kind for the whole suite: starting dockerd takes seconds.
    static std::map<std::string, std::unique_ptr<Engine>>& engines() {
        static std::map<std::string, std::unique_ptr<Engine>> all;
        return all;
    }
    static void TearDownTestSuite() { engines().clear(); }

    void SetUp() override {
        auto& slot = engines()[GetParam()];
        if (!slot) {
            slot = std::make_unique<Engine>();
            slot->name = GetParam();
            if (slot->name == "docker") {
                slot->docker = DockerDaemon::start(slot->skip);
            } else {
                slot->podman = PodmanStore::create(slot->skip);
            }
            if (slot->skip.empty() && !static_busybox())
                slot->skip = "no static busybox (apt-get install busybox-static)";
            if (slot->skip.empty()) {
                import_busybox_image(slot->client(), kBusybox, slot->env());
                slot->derive(kFakePython, fake_python(kFakeProbeLine),
                             {"ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", "ENV OMP_NUM_THREADS=4",
                              "ENV PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                              "ENV LANG=C.UTF-8", "ENV CUDA_MODULE_LOADING=LAZY",
                              "LABEL org.opencontainers.image.base.name=example.org/base:1.0",
                              "LABEL org.joulebench.test=yes", "WORKDIR /opt/joulebench",
                              R"(ENTRYPOINT ["/bin/sh", "-c"])", R"(CMD ["echo hello"])"});
                slot->derive(kNoTorch, fake_python(kNoTorchLine),
                             {"ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                              "LABEL org.opencontainers.image.ref.name=notorch",
                              "LABEL org.opencontainers.image.version=7"});
            }
        }
        if (!slot->skip.empty()) GTEST_SKIP() << slot->skip;
        m_engine = slot.get();
        for (const auto& [k, v] : m_engine->env())
            m_env.push_back(std::make_unique<test::ScopedEnv>(k, v));
    }

    test::ProcessResult joulebench(std::vector<std::string> args) const {
        args.insert(args.begin(), {"image", "inspect"});
        args.push_back("--engine");
        args.push_back(m_engine->name);
        test::ProcessOptions options;
        for (const auto& [k, v] : m_engine->env()) options.env.emplace_back(k, v);
        options.timeout = std::chrono::seconds(300);
        return test::run_joulebench(args, options);
    }

    // Layer sizes in bytes as `history` reports them: docker prints them with --human=false;
    // podman's templates print human sizes whatever --human says, so its JSON array is read.
    std::vector<std::uint64_t> layer_sizes(const std::string& image) const {
        std::vector<std::uint64_t> sizes;
        if (m_engine->name == "docker") {
            for (const auto& s : m_engine->lines(
                     {"history", "--no-trunc", "--human=false", "--format", "{{.Size}}", image}))
                sizes.push_back(std::stoull(s));
        } else {
            for (const auto& layer : nlohmann::json::parse(
                     m_engine->out({"history", "--no-trunc", "--format", "json", image})))
                sizes.push_back(layer.at("size").get<std::uint64_t>());
        }
        return sizes;
    }

    // The image's size, layers and bottom layer as the engine reports them.
    void expect_sizes_and_layers_as_the_engine_reports(const images::ImageInfo& info,
                                                       const std::string& image) const {
        const auto size = m_engine->lines({"image", "inspect", "--format", "{{.Size}}", image});
        ASSERT_EQ(size.size(), 1U);
        EXPECT_EQ(fmt::format("{}", info.size_bytes), size[0]);
        const auto ids = m_engine->lines({"image", "inspect", "--format", "{{.Id}}", image});
        ASSERT_EQ(ids.size(), 1U);
        EXPECT_THAT(info.id, HasSubstr(ids[0].substr(ids[0].find(':') + 1)));
        const auto sizes = layer_sizes(image);
        ASSERT_EQ(info.layers.size(), sizes.size());
        for (std::size_t i = 0; i < sizes.size(); ++i)
            EXPECT_EQ(info.layers[i].size_bytes, sizes[i]) << "layer " << i;
        const auto by = m_engine->lines(
            {"history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", image});
        ASSERT_EQ(by.size(), info.layers.size());
        for (std::size_t i = 0; i < by.size(); ++i)
            EXPECT_EQ(info.layers[i].created_by + "|" + info.layers[i].comment, by[i]);
    }

    Engine* m_engine = nullptr;
    std::vector<std::unique_ptr<test::ScopedEnv>> m_env;
};

TEST_P(ImageInspectTest, BusyboxHasNoPythonAndItsBaseIsTheBottomLayer) {
    const images::ImageInfo info = images::inspect_image(GetParam(), kBusybox);
    EXPECT_EQ(info.engine, GetParam());
    EXPECT_FALSE(info.engine_version.empty());
    EXPECT_EQ(info.software.status, images::SoftwareProbe::Status::kNoPython);
    EXPECT_EQ(info.software.message, "no python3 in the image");
    expect_sizes_and_layers_as_the_engine_reports(info, kBusybox);
    ASSERT_FALSE(info.layers.empty());
    EXPECT_EQ(info.base.source, images::BaseSource::kBottomLayer);
    const auto& bottom = info.layers.back();
    EXPECT_EQ(info.base.name, bottom.created_by.empty() ? bottom.comment : bottom.created_by);
    // No probe container is left behind.
    EXPECT_TRUE(m_engine->lines({"ps", "-a", "-q", "--filter", "name=joulebench-probe"}).empty());

    const auto cli = joulebench({kBusybox});
    EXPECT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_THAT(cli.out, HasSubstr("python       no python3 in the image\n"));
}

TEST_P(ImageInspectTest, FakePythonImageReportsTheProbeEnvironmentLabelsAndLayers) {
    const images::ImageInfo info = images::inspect_image(GetParam(), kFakePython);
    const images::SoftwareProbe& s = info.software;
    ASSERT_EQ(s.status, images::SoftwareProbe::Status::kOk) << s.message;
    EXPECT_EQ(s.python, "3.99.1");
    EXPECT_EQ(s.python_executable, "/usr/bin/python3");
    EXPECT_EQ(s.torch, "9.8.7+cu999");
    EXPECT_EQ(s.torch_cuda, "99.9");
    EXPECT_EQ(s.cudnn, "90100");
    EXPECT_FALSE(s.torchvision.has_value());
    EXPECT_EQ(s.torchvision_error, "not installed");
    EXPECT_EQ(s.cuda_toolkit, "99.9.1");
    EXPECT_EQ(s.cudart, std::vector<std::string>{"/usr/local/cuda/lib64/libcudart.so.99"});

    // Environment: in the image's order, the energy-relevant ones flagged.
    std::map<std::string, images::EnvVar> env;
    std::vector<std::string> order;
    for (const auto& v : info.env) {
        env[v.name] = v;
        order.push_back(v.name);
    }
    ASSERT_EQ(env.count("OMP_NUM_THREADS"), 1U);
    EXPECT_EQ(env["OMP_NUM_THREADS"].value, "4");
    EXPECT_FALSE(env["OMP_NUM_THREADS"].relevance.empty());
    EXPECT_EQ(env["PYTORCH_CUDA_ALLOC_CONF"].value, "expandable_segments:True");
    EXPECT_THAT(env["PYTORCH_CUDA_ALLOC_CONF"].relevance, HasSubstr("allocator"));
    EXPECT_FALSE(env["CUDA_MODULE_LOADING"].relevance.empty());
    EXPECT_EQ(env["LANG"].value, "C.UTF-8");
    EXPECT_TRUE(env["LANG"].relevance.empty());
    const auto pos = [&order](const std::string& n) {
        return std::find(order.begin(), order.end(), n) - order.begin();
    };
    EXPECT_LT(pos("OMP_NUM_THREADS"), pos("PYTORCH_CUDA_ALLOC_CONF"));
    EXPECT_LT(pos("LANG"), pos("CUDA_MODULE_LOADING"));

    // The engine's own view of the config.
    EXPECT_EQ(nlohmann::json(info.env.size()).dump(),
              m_engine->lines({"image", "inspect", "--format", "{{len .Config.Env}}", kFakePython})
                  .at(0));
    EXPECT_EQ(info.entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
    EXPECT_EQ(info.cmd, std::vector<std::string>{"echo hello"});
    EXPECT_EQ(info.working_dir, "/opt/joulebench");
    EXPECT_EQ(info.labels.at("org.joulebench.test"), "yes");
    EXPECT_EQ(info.base.name, "example.org/base:1.0");
    EXPECT_EQ(info.base.source, images::BaseSource::kBaseNameLabel);
    expect_sizes_and_layers_as_the_engine_reports(info, kFakePython);
    // busybox's layer and the committed one (the fake python3 is in it).
    ASSERT_GE(info.layers.size(), 2U);
    EXPECT_GT(info.layers.front().size_bytes, 0U);
    EXPECT_TRUE(m_engine->lines({"ps", "-a", "-q", "--filter", "name=joulebench-probe"}).empty());
}

TEST_P(ImageInspectTest, ACliTableAndJsonShowTheSameAudit) {
    const auto human = joulebench({kFakePython});
    ASSERT_EQ(human.exit_code, 0) << human.err;
    EXPECT_THAT(human.out, HasSubstr("python       3.99.1 (/usr/bin/python3)\n"));
    EXPECT_THAT(human.out,
                HasSubstr("torch        9.8.7+cu999, built for CUDA 99.9, cuDNN 90100\n"));
    EXPECT_THAT(human.out, HasSubstr("torchvision  not installed\n"));
    EXPECT_THAT(
        human.out,
        HasSubstr(
            "base         example.org/base:1.0 (label org.opencontainers.image.base.name)\n"));
    EXPECT_THAT(human.out, HasSubstr("entrypoint   [\"/bin/sh\",\"-c\"]\n"));
    EXPECT_THAT(human.out, HasSubstr("\n* PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True  "));
    EXPECT_THAT(human.out, HasSubstr("\n  LANG=C.UTF-8\n"));
    // The layer table: a header and one row per `history` line, sizes as docker prints them.
    const auto history = layer_sizes(kFakePython);
    const auto table_start = human.out.find("LAYERS (newest first)\nIMAGE ");
    ASSERT_NE(table_start, std::string::npos) << human.out;
    std::istringstream rows(human.out.substr(table_start));
    std::string line;
    std::getline(rows, line);
    std::getline(rows, line);
    const auto size_end = line.find("SIZE") + 4;
    for (const auto& size : history) {
        ASSERT_TRUE(std::getline(rows, line));
        ASSERT_GE(line.size(), size_end);
        const std::string shown = line.substr(size_end - 8, 8);
        EXPECT_EQ(shown.substr(shown.find_first_not_of(' ')), images::human_size(size)) << line;
    }
    ASSERT_TRUE(std::getline(rows, line));
    EXPECT_EQ(line, "") << "one row per layer";
    if (GetParam() == "docker") {
        // docker's own human sizes, column for column.
        const auto docker_sizes =
            m_engine->lines({"history", "--no-trunc", "--format", "{{.Size}}", kFakePython});
        for (const auto& s : docker_sizes) EXPECT_THAT(human.out, HasSubstr(" " + s + "  "));
    }

    const auto json_out = joulebench({kFakePython, "--json"});
    ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
    const auto doc = nlohmann::json::parse(json_out.out);
    EXPECT_EQ(doc.at("schema"), "joulebench.image/1");
    EXPECT_EQ(doc.at("engine"), GetParam());
    EXPECT_EQ(doc.at("software").at("status"), "ok");
    EXPECT_EQ(doc.at("software").at("python"), "3.99.1");
    EXPECT_EQ(doc.at("software").at("torch_cuda"), "99.9");
    EXPECT_TRUE(doc.at("software").at("torchvision").is_null());
    ASSERT_EQ(doc.at("layers").size(), history.size());
    for (std::size_t i = 0; i < history.size(); ++i)
        EXPECT_EQ(doc.at("layers")[i].at("size_bytes").get<std::uint64_t>(), history[i]);
    bool found = false;
    for (const auto& v : doc.at("env")) {
        if (v.at("name") == "PYTORCH_CUDA_ALLOC_CONF") {
            found = true;
            EXPECT_TRUE(v.at("relevant").get<bool>());
        }
        if (v.at("name") == "LANG") {
            EXPECT_FALSE(v.at("relevant").get<bool>());
        }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(doc.at("base").at("source"), "label org.opencontainers.image.base.name");

    const auto no_probe = joulebench({kFakePython, "--json", "--no-probe"});
    ASSERT_EQ(no_probe.exit_code, 0) << no_probe.err;
    EXPECT_EQ(nlohmann::json::parse(no_probe.out).at("software").at("status"), "skipped");
}

TEST_P(ImageInspectTest, PythonWithoutTorchSaysNotInstalledAndTheRefNameLabelIsTheBase) {
    const images::ImageInfo info = images::inspect_image(GetParam(), kNoTorch);
    ASSERT_EQ(info.software.status, images::SoftwareProbe::Status::kOk) << info.software.message;
    EXPECT_EQ(info.software.python, "3.12.0");
    EXPECT_FALSE(info.software.torch.has_value());
    EXPECT_EQ(info.software.torch_error, "not installed");
    EXPECT_EQ(info.base.name, "notorch:7");
    EXPECT_EQ(info.base.source, images::BaseSource::kRefNameLabel);
    const auto cli = joulebench({kNoTorch});
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_THAT(cli.out, HasSubstr("torch        not installed\n"));
    EXPECT_THAT(cli.out, HasSubstr("cuda         no CUDA toolkit found\n"));
}

TEST_P(ImageInspectTest, AnUnknownImageIsAClearErrorAndNothingIsPulled) {
    const std::string image = "joulebench-no-such-image:never";
    try {
        (void)images::inspect_image(GetParam(), image);
        FAIL() << "an unknown image was inspected";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_EQ(std::string(e.what()),
                  fmt::format("image: inspect {} with {}: no such image in {}'s local store", image,
                              GetParam(), GetParam()));
        EXPECT_THAT(e.hint(), HasSubstr("never pulls"));
    }
    const auto cli = joulebench({image});
    EXPECT_EQ(cli.exit_code, 1);
    EXPECT_THAT(cli.err, HasSubstr("error: image: inspect joulebench-no-such-image:never with "));
    EXPECT_THAT(cli.err, HasSubstr("hint: pull or build it first"));
    EXPECT_EQ(cli.out, "");
    // Still not there: nothing was pulled.
    EXPECT_NE(m_engine->cmd({"image", "inspect", image}).first, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, ImageInspectTest, ::testing::Values("docker", "podman"),
                         [](const auto& param_info) { return param_info.param; });

TEST(ImageInspectEngine, AnUnreachableDockerDaemonIsAnIoErrorWithAHint) {
    const test::TempDir dir("jb-nodaemon");
    const test::ScopedEnv host("DOCKER_HOST", "unix://" + (dir.path() / "none.sock").string());
    try {
        (void)images::inspect_image("docker", "busybox");
        FAIL() << "inspect without a daemon succeeded";
    } catch (const Error& e) {
        if (e.category() == ErrorCategory::kNotFound &&
            std::string(e.what()).find("PATH") != std::string::npos)
            GTEST_SKIP() << "docker client not installed";
        EXPECT_EQ(e.category(), ErrorCategory::kIo) << e.what();
        EXPECT_THAT(e.what(), HasSubstr("image: run `docker image inspect busybox`: "));
        EXPECT_THAT(e.hint(), HasSubstr("start dockerd"));
    }
}

TEST(ImageInspectEngine, CliRefusesAnUnknownEngineAsBadUsage) {
    const auto r = test::run_joulebench({"image", "inspect", "busybox", "--engine", "lxc"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("--engine"));
}

}  // namespace
}  // namespace joulebench::testing
