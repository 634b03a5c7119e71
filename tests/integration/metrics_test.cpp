// The live metrics (docs/live.md) end to end: the real binary serving /metrics while `run`,
// `measure` and `exporter` work, scraped by real clients (curl), linted by Prometheus's own
// `promtool check metrics`, and scraped by a real Prometheus server whose query API must give the
// energy the store records. The GPUs are the fake NVML (100 W each) loaded through the production
// dlopen path; CPU energy is the CPU-time estimate (no powercap here).

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

bool have(const std::string& program) {
    return run_process({"sh", "-c", "command -v " + program}).exit_code == 0;
}

/// A TCP port nothing listens on now (bound to port 0, then closed).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

struct Http {
    int code = 0;
    std::string headers;
    std::string body;
};

/// A request with curl: the status code, the headers and the body.
Http http(const std::string& url, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"curl", "-s", "-D", "/dev/stderr", "-o", "-", "--max-time", "10"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    const ProcessResult r = run_process(argv);
    Http h;
    h.headers = r.err;
    h.body = r.out;
    std::smatch m;
    if (std::regex_search(h.headers, m, std::regex(R"(HTTP/1\.[01] (\d+))"))) h.code = std::stoi(m[1]);
    return h;
}

/// The URL `joulebench ... --metrics-listen` printed on standard error, once it has.
std::string wait_for_url(const ChildProcess& child) {
    std::string url;
    eventually([&] {
        std::smatch m;
        const std::string err = child.err_so_far();
        if (std::regex_search(err, m, std::regex(R"(metrics at (http://\S+))"))) url = m[1];
        return !url.empty();
    }, std::chrono::seconds(30));
    return url;
}

/// `promtool check metrics` on an exposition: its output, empty when it found nothing.
std::string promtool_findings(const std::string& exposition, const fs::path& dir) {
    write_file(dir / "scrape.txt", exposition);
    const ProcessResult r = run_process({"sh", "-c", "promtool check metrics < " + (dir / "scrape.txt").string()});
    return r.exit_code == 0 && r.out.empty() && r.err.empty() ? "" : fmt::format("rc {}: {}{}", r.exit_code, r.out, r.err);
}

/// The value of the first sample of `family` whose line contains every one of `parts`.
std::optional<double> sample(const std::string& text, const std::string& family,
                             const std::vector<std::string>& parts = {}) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(family + "{", 0) != 0 && line.rfind(family + " ", 0) != 0) continue;
        bool all = true;
        for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
        if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

class Metrics : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have("curl")) GTEST_SKIP() << "curl is not installed (apt-get install curl)";
    }
    TempDir m_dir{"joulebench-metrics"};
    FakeNvmlState m_nvml{m_dir.path() / "nvml.json", 2};
    fs::path m_db = m_dir.path() / "results.db";
    fs::path m_file = m_dir.path() / "experiment.toml";

    ProcessOptions options() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_nvml.path().string()},
                 {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()}};
        o.timeout = std::chrono::seconds(120);
        return o;
    }
    /// One workload that sleeps `seconds` (a failing one too when `with_failure`), on GPU slots
    /// 0 and 1, capped at 150 W, `repetitions` each.
    void write_experiment(const std::string& seconds, unsigned repetitions, bool with_failure) const {
        std::string text = fmt::format(
            "[experiment]\nname = \"live\"\nrepetitions = {}\nseed = 1\n\n"
            "[[workload]]\nname = \"sleeper\"\ncommand = [\"sleep\", \"{}\"]\n\n",
            repetitions, seconds);
        if (with_failure) text += "[[workload]]\nname = \"broken\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n\n";
        text += "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n[power_caps]\ngpu_w = [150]\n\n"
                "[gpus]\ndevices = [0, 1]\n";
        write_file(m_file, text);
    }
    std::vector<std::string> run_args(const std::string& listen, const std::string& linger) const {
        return {joulebench_binary(), "run", m_file.string(), "--db", m_db.string(), "--interval", "50",
                "--metrics-listen", listen, "--metrics-linger", linger};
    }
};

TEST_F(Metrics, RunServesPowerEnergyTelemetryAndProgressWhileItRunsAndPromtoolFindsNothing) {
    write_experiment("2", 1, /*with_failure=*/true);
    ChildProcess run(run_args("127.0.0.1:0", "0"), options());
    const std::string url = wait_for_url(run);
    ASSERT_FALSE(url.empty()) << run.err_so_far();
    EXPECT_THAT(url, ::testing::StartsWith("http://127.0.0.1:"));
    // While the sleepers run: their GPU's power and energy, with the run's labels.
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = http(url).body;
        const auto e = sample(text, "joulebench_energy_joules_total", {"workload=\"sleeper\"", "kind=\"gpu\""});
        return e && *e > 5.0;
    }, std::chrono::seconds(30))) << text;
    EXPECT_THAT(text, HasSubstr("# TYPE joulebench_energy_joules_total counter"));
    EXPECT_THAT(text, HasSubstr("# TYPE joulebench_power_watts gauge"));
    const auto power = sample(text, "joulebench_power_watts", {"workload=\"sleeper\"", "kind=\"gpu\""});
    ASSERT_TRUE(power.has_value()) << text;
    EXPECT_NEAR(*power, 100.0, 5.0);  // the fake GPU draws 100 W
    for (const char* label : {"experiment=\"live\"", "environment=\"bare\"", "gpu_cap_watts=\"150\"",
                              "repetition=\"1\"", "gpu_slot=\"", "method=\"counter\""}) {
        EXPECT_THAT(text, HasSubstr(label));
    }
    // GPU telemetry of the fake: its enforced limit is the run's cap.
    EXPECT_EQ(sample(text, "joulebench_gpu_power_limit_watts", {"workload=\"sleeper\""}), 150.0) << text;
    EXPECT_TRUE(sample(text, "joulebench_gpu_temperature_celsius").has_value()) << text;
    EXPECT_EQ(sample(text, "joulebench_plan_runs", {"state=\"planned\""}), 2.0);
    EXPECT_TRUE(sample(text, "process_cpu_seconds_total").has_value());
    EXPECT_EQ(promtool_findings(text, m_dir.path()), "") << text;

    // After the failing run: counted by status, its series kept with its status.
    ASSERT_TRUE(eventually([&] {
        text = http(url).body;
        return sample(text, "joulebench_runs_total", {"status=\"failed\""}) == 1.0;
    }, std::chrono::seconds(30))) << text;
    EXPECT_TRUE(sample(text, "joulebench_run_duration_seconds", {"workload=\"broken\"", "status=\"failed\""}));
    const ProcessResult r = run.wait();
    EXPECT_EQ(r.exit_code, 1) << r.err;  // one run failed
}

TEST_F(Metrics, RealPrometheusScrapesARunAndItsQueryApiGivesTheStoredEnergyWithinOnePercent) {
    if (!have("prometheus")) GTEST_SKIP() << "prometheus is not installed (apt-get install prometheus)";
    write_experiment("3", 2, /*with_failure=*/false);  // two runs at once, one per GPU
    const int port = free_port();
    const int prom_port = free_port();
    ASSERT_GT(port, 0);
    ASSERT_GT(prom_port, 0);
    write_file(m_dir.path() / "prometheus.yml",
               fmt::format("global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n"
                           "scrape_configs:\n  - job_name: joulebench\n    static_configs:\n"
                           "      - targets: ['127.0.0.1:{}']\n",
                           port));
    ProcessOptions prom_options;
    prom_options.timeout = std::chrono::seconds(300);
    ChildProcess prometheus({"prometheus", "--config.file=" + (m_dir.path() / "prometheus.yml").string(),
                             "--storage.tsdb.path=" + (m_dir.path() / "tsdb").string(),
                             fmt::format("--web.listen-address=127.0.0.1:{}", prom_port)},
                            prom_options);
    const std::string api = fmt::format("http://127.0.0.1:{}/api/v1/", prom_port);
    ASSERT_TRUE(eventually([&] { return http(api.substr(0, api.size() - 7) + "-/ready").code == 200; }, std::chrono::seconds(60)))
        << prometheus.err_so_far();

    // Prometheus hands its targets to the scrape loops a few seconds after it starts (its
    // discovery updates are throttled): the run starts once the target was tried (and found down).
    ASSERT_TRUE(eventually([&] {
        const auto j = nlohmann::json::parse(http(api + "targets").body, nullptr, false);
        if (j.is_discarded() || !j.contains("data")) return false;
        for (const auto& t : j["data"]["activeTargets"]) {
            if (t.value("lastScrape", "").rfind("0001-", 0) != 0) return true;
        }
        return false;
    }, std::chrono::seconds(60))) << http(api + "targets").body;

    // A run of 3 s on two GPU slots, the metrics served 4 s more, so that the last scrape sees
    // every run finished.
    const ProcessResult r = run_process(run_args(fmt::format("127.0.0.1:{}", port), "4"), options());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto runs = Store(m_db, Store::Mode::kReadOnly).runs();
    ASSERT_EQ(runs.size(), 2U);

    std::string answers;  // for the failure messages
    const auto query = [&](const std::string& promql) {
        const Http h = http(api + "query", {"--data-urlencode", "query=" + promql});
        answers += promql + " -> " + std::to_string(h.code) + " " + h.body + "\n";
        const auto j = nlohmann::json::parse(h.body, nullptr, false);
        std::map<std::string, double> out;  // run label -> value
        if (j.is_discarded() || j.value("status", "") != "success") return out;
        for (const auto& s : j["data"]["result"]) {
            out[s["metric"].value("run", "")] = std::stod(s["value"][1].get<std::string>());
        }
        return out;
    };
    // The series are stale once the endpoint is gone: *_over_time still sees their samples.
    const auto totals = query("max_over_time(joulebench_run_energy_joules[10m])");
    const auto gpus = query("sum by (run) (max_over_time(joulebench_energy_joules_total{kind=\"gpu\"}[10m]))");
    ASSERT_EQ(totals.size(), 2U) << answers << http(api + "targets").body << prometheus.err_so_far();
    for (const auto& run : runs) {
        ASSERT_TRUE(run.energy_j && run.gpu_energy_j) << run.run_id;
        ASSERT_EQ(totals.count(run.run_id), 1U) << run.run_id;
        EXPECT_NEAR(totals.at(run.run_id), *run.energy_j, 0.01 * *run.energy_j) << run.run_id;
        ASSERT_EQ(gpus.count(run.run_id), 1U) << run.run_id;
        EXPECT_NEAR(gpus.at(run.run_id), *run.gpu_energy_j, 0.01 * *run.gpu_energy_j) << run.run_id;
        EXPECT_GT(*run.gpu_energy_j, 250.0);  // 100 W for 3 s
    }
    const auto done = query("max_over_time(joulebench_runs_total{status=\"done\"}[10m])");
    ASSERT_EQ(done.size(), 1U);
    EXPECT_EQ(done.begin()->second, 2.0);
    prometheus.send(SIGTERM);
    prometheus.wait();
}

TEST_F(Metrics, MeasureServesItsCommandsDomainsAndExporterServesTheMachineUntilSignalled) {
    const int port = free_port();
    ChildProcess exporter({joulebench_binary(), "exporter", "--listen", fmt::format("127.0.0.1:{}", port),
                           "--interval", "100"},
                          options());
    const std::string url = fmt::format("http://127.0.0.1:{}/metrics", port);
    std::string first;
    ASSERT_TRUE(eventually([&] {
        first = http(url).body;
        return sample(first, "joulebench_energy_joules_total", {"domain=\"gpu1\""}).has_value();
    }, std::chrono::seconds(30))) << exporter.err_so_far();
    // The machine's series carry no run labels.
    EXPECT_THAT(first, Not(HasSubstr("run=\"")));
    EXPECT_THAT(first, Not(HasSubstr("joulebench_plan_runs")));
    EXPECT_EQ(promtool_findings(first, m_dir.path()), "") << first;
    const double e0 = *sample(first, "joulebench_energy_joules_total", {"domain=\"gpu1\""});
    std::string later;
    ASSERT_TRUE(eventually([&] {
        later = http(url).body;
        return *sample(later, "joulebench_energy_joules_total", {"domain=\"gpu1\""}) > e0 + 20.0;
    }, std::chrono::seconds(30))) << later;
    EXPECT_NEAR(*sample(later, "joulebench_power_watts", {"domain=\"gpu1\""}), 100.0, 5.0);
    ASSERT_TRUE(eventually([&] {
        later = http(url).body;
        return sample(later, "joulebench_sampler_ticks_total") > 0.0;
    }, std::chrono::seconds(30))) << later;
    EXPECT_GT(*sample(later, "joulebench_scrapes_total"), 0.0);
    // Only reads: other methods are refused, other paths are not found.
    EXPECT_EQ(http(url, {"-X", "POST", "-d", "x=1"}).code, 405);
    EXPECT_EQ(http(url.substr(0, url.size() - 8) + "/nothing").code, 404);
    const Http head = http(url, {"-I"});
    EXPECT_EQ(head.code, 200);
    EXPECT_THAT(head.headers, HasSubstr("text/plain; version=0.0.4"));
    exporter.send(SIGTERM);
    const ProcessResult r = exporter.wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;

    // measure: its command's domains while it runs, under the run id "measure".
    ChildProcess measure({joulebench_binary(), "measure", "--metrics-listen", "127.0.0.1:0", "--", "sleep", "2"},
                         options());
    const std::string murl = wait_for_url(measure);
    ASSERT_FALSE(murl.empty()) << measure.err_so_far();
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = http(murl).body;
        return sample(text, "joulebench_power_watts", {"run=\"measure\"", "workload=\"sleep\"", "domain=\"gpu0\""})
            .has_value();
    }, std::chrono::seconds(30))) << text;
    EXPECT_EQ(promtool_findings(text, m_dir.path()), "") << text;
    EXPECT_EQ(measure.wait().exit_code, 0);
}

TEST_F(Metrics, ListeningBeyondLoopbackNeedsTheFlagAndBadAddressesAreNamed) {
    write_experiment("0.1", 1, false);
    ProcessOptions o = options();
    const ProcessResult open = run_process(run_args("0.0.0.0:0", "0"), o);
    EXPECT_EQ(open.exit_code, 2) << open.err;
    EXPECT_THAT(open.err, HasSubstr("not a loopback address"));
    EXPECT_THAT(open.err, HasSubstr("--metrics-public"));
    EXPECT_FALSE(fs::exists(m_db));  // refused before anything ran
    const ProcessResult no_port = run_process(run_args("127.0.0.1", "0"), o);
    EXPECT_EQ(no_port.exit_code, 2);
    EXPECT_THAT(no_port.err, HasSubstr("listen address '127.0.0.1': no port"));
    const ProcessResult bad_port = run_process(run_args("127.0.0.1:99999", "0"), o);
    EXPECT_THAT(bad_port.err, HasSubstr("port '99999' is not a number from 0 to 65535"));
    const ProcessResult linger_alone = run_joulebench({"measure", "--metrics-linger", "2", "--", "true"}, o);
    EXPECT_EQ(linger_alone.exit_code, 2);
    EXPECT_THAT(linger_alone.err, HasSubstr("need --metrics-listen"));
    // A port in use is named, with what to do.
    const int port = free_port();
    ChildProcess holder({joulebench_binary(), "exporter", "--listen", fmt::format("127.0.0.1:{}", port)}, o);
    ASSERT_TRUE(eventually([&] {
        return holder.err_so_far().find("Ctrl-C ends") != std::string::npos;
    }, std::chrono::seconds(30))) << holder.err_so_far();
    const ProcessResult busy = run_process(run_args(fmt::format("127.0.0.1:{}", port), "0"), o);
    EXPECT_EQ(busy.exit_code, 1);
    EXPECT_THAT(busy.err, HasSubstr(fmt::format("metrics: listen on 127.0.0.1:{}: bind", port)));
    EXPECT_THAT(busy.err, HasSubstr("choose another port"));
    holder.send(SIGINT);
    EXPECT_EQ(holder.wait().exit_code, 0);
    // With the flag, any address is served.
    std::vector<std::string> pub_args = run_args("0.0.0.0:0", "0");
    pub_args.push_back("--metrics-public");
    const ProcessResult pub = run_process(pub_args, o);
    EXPECT_EQ(pub.exit_code, 0) << pub.err;
    EXPECT_THAT(pub.err, HasSubstr("metrics at http://0.0.0.0:"));
}

// tune --method online: the one run "online" while the caps change under it, its GPU's energy
// and the cap in force, and at the end the run's energy as the JSON result gives it.
TEST_F(Metrics, TuneOnlineServesItsRunAndTheCapInForce) {
    const fs::path json_file = m_dir.path() / "tune.json";
    ChildProcess tune({joulebench_binary(), "tune", "--method", "online", "--gpus", "0", "--caps",
                       "150,250", "--passes", "1", "--settle", "0.2", "--segment", "0.5",
                       "--interval", "50", "--progress-regex", "^step", "--json", json_file.string(),
                       "--metrics-listen", "127.0.0.1:0", "--metrics-linger", "30", "--", "sh",
                       "-c", "i=0; while [ $i -lt 120 ]; do echo step $i; sleep 0.025; i=$((i+1)); done"},
                      options());
    const std::string url = wait_for_url(tune);
    ASSERT_FALSE(url.empty()) << tune.err_so_far();
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = http(url).body;
        const auto e = sample(text, "joulebench_energy_joules_total", {"run=\"online\"", "domain=\"gpu0\""});
        const auto cap = sample(text, "joulebench_gpu_power_limit_watts", {"run=\"online\"", "domain=\"gpu0\""});
        return e && *e > 5.0 && cap && (*cap == 150.0 || *cap == 250.0);
    }, std::chrono::seconds(30))) << text;
    EXPECT_THAT(text, HasSubstr("workload=\"sh\""));
    EXPECT_EQ(promtool_findings(text, m_dir.path()), "") << text;
    // The end, while it lingers: the run done, its energy as recorded.
    ASSERT_TRUE(eventually([&] {
        text = http(url).body;
        return sample(text, "joulebench_runs_total", {"status=\"done\""}) == 1.0;
    }, std::chrono::seconds(60))) << text << tune.err_so_far();
    ASSERT_TRUE(eventually([&] { return fs::exists(json_file); }, std::chrono::seconds(10)));
    tune.send(SIGINT);
    const ProcessResult r = tune.wait();
    const auto j = nlohmann::json::parse(read_file(json_file));
    const auto energy = sample(text, "joulebench_run_energy_joules", {"run=\"online\""});
    ASSERT_TRUE(energy.has_value()) << text;
    EXPECT_NEAR(*energy, j["energy_spent_j"].get<double>(), 1e-6 * *energy) << r.err;
    const auto counter = sample(text, "joulebench_energy_joules_total", {"run=\"online\"", "domain=\"gpu0\""});
    ASSERT_TRUE(counter.has_value());
    EXPECT_NEAR(*counter, j["energy_spent_j"].get<double>(), 0.01 * *counter);
}

}  // namespace
}  // namespace joulebench::test
