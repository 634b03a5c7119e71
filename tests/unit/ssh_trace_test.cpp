// The trace of an ssh run: ssh::TraceCsvParser reads back what the remote `joulebench measure
// --samples` wrote (the real CsvTraceSink writes the text here) and hands the rows to a TraceSink
// as the Sampler would; bad input stops it with the line and the problem, keeping the rows
// before. The demultiplexer's trace part (end line with TRACE_LENGTH, bytes counted).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fakes/test_support.hpp"
#include "measure/csv_trace.hpp"
#include "environments/ssh_remote.hpp"

namespace joulebench::environments {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Row {
    double t = 0.0;
    std::vector<TraceDomainValue> domains;
    std::vector<std::optional<GpuTelemetry>> telemetry;
};

class RecordingSink final : public TraceSink {
public:
    void begin(const std::vector<const Sensor*>& sensors) override {
        ++begun;
        for (const Sensor* s : sensors) {
            ids.push_back(s->info().id);
            gpu.push_back(s->info().kind == DomainKind::kGpu);
        }
    }
    void row(double t_s, const std::vector<TraceDomainValue>& domains,
             const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept override {
        rows.push_back(Row{t_s, domains, telemetry});
    }
    void end() noexcept override { ++ended; }

    int begun = 0;
    int ended = 0;
    std::vector<std::string> ids;
    std::vector<bool> gpu;
    std::vector<Row> rows;
};

SensorInfo info(std::string id, DomainKind kind) {
    SensorInfo i;
    i.id = std::move(id);
    i.kind = kind;
    return i;
}

std::vector<SensorInfo> domains() {
    return {info("gpu0", DomainKind::kGpu), info("package0", DomainKind::kPackage),
            info("dram0", DomainKind::kDram)};
}

// Only describes a domain, for CsvTraceSink::begin.
class Described final : public Sensor {
public:
    explicit Described(SensorInfo i) : m_info(std::move(i)) {}
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return std::nullopt; }
    [[nodiscard]] SensorHealth health() const override { return {}; }

private:
    SensorInfo m_info;
};

const std::string kHeader =
    "time_s,gpu0_power_w,gpu0_energy_j,package0_power_w,package0_energy_j,dram0_power_w,"
    "dram0_energy_j,gpu0_utilisation_pct,gpu0_temperature_c,gpu0_sm_clock_mhz,"
    "gpu0_throttle_reasons,gpu0_enforced_limit_w\n";

RecordingSink parse(const std::string& text, std::string& error, std::size_t chunk = 0) {
    RecordingSink sink;
    ssh::TraceCsvParser parser(sink, domains());
    if (chunk == 0) chunk = text.size() + 1;
    for (std::size_t i = 0; i < text.size(); i += chunk) {
        parser.feed(std::string_view(text).substr(i, chunk));
    }
    parser.finish();
    error = parser.error();
    EXPECT_EQ(parser.rows(), sink.rows.size());
    return sink;
}

TEST(SshTraceCsv, ReadsBackWhatTheRemoteMeasureWritesInChunksOfAnySize) {
    // The remote side's writer, the real one.
    test::TempDir dir("joulebench-ssh-trace");
    const auto path = dir.path() / "samples.csv";
    std::vector<std::unique_ptr<Described>> sensors;
    std::vector<const Sensor*> view;
    for (const auto& i : domains()) {
        sensors.push_back(std::make_unique<Described>(i));
        view.push_back(sensors.back().get());
    }
    std::vector<Row> written;
    {
        CsvTraceSink csv(path);
        csv.begin(view);
        for (int r = 0; r < 5; ++r) {
            Row row;
            row.t = 0.1 * r;
            for (int d = 0; d < 3; ++d) {
                TraceDomainValue v;
                v.valid = !(r == 3 && d == 1);  // a failed read of package0 in row 3
                v.energy_j = 10.5 * r + d;
                if (r > 0) v.power_w = 100.25 + r + d;  // none in the first row
                row.domains.push_back(v);
            }
            GpuTelemetry t;
            t.utilisation_pct = 50U + static_cast<unsigned>(r);
            t.temperature_c = 40.5;
            t.sm_clock_mhz = 1410U;
            t.throttle_reasons = r == 2 ? 0x4U : 0x0U;
            if (r != 4) t.enforced_limit = Watts(250.0);
            row.telemetry = {t, std::nullopt, std::nullopt};
            if (r == 1) row.telemetry[0] = std::nullopt;  // telemetry not read in row 1
            csv.row(row.t, row.domains, row.telemetry);
            written.push_back(row);
        }
        csv.end();
        csv.close();
    }
    const std::string text = test::read_file(path);
    ASSERT_EQ(text.substr(0, kHeader.size()), kHeader);

    for (const std::size_t chunk :
         {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}, text.size()}) {
        std::string error;
        const RecordingSink sink = parse(text, error, chunk);
        ASSERT_EQ(error, "") << chunk;
        EXPECT_EQ(sink.begun, 1);
        EXPECT_EQ(sink.ended, 1);
        EXPECT_THAT(sink.ids, ElementsAre("gpu0", "package0", "dram0"));
        EXPECT_THAT(sink.gpu, ElementsAre(true, false, false));
        ASSERT_EQ(sink.rows.size(), written.size()) << chunk;
        for (std::size_t r = 0; r < written.size(); ++r) {
            const Row& got = sink.rows[r];
            const Row& want = written[r];
            EXPECT_NEAR(got.t, want.t, 1e-6);
            ASSERT_EQ(got.domains.size(), 3U);
            for (std::size_t d = 0; d < 3; ++d) {
                EXPECT_EQ(got.domains[d].valid, want.domains[d].valid) << r << " " << d;
                if (!want.domains[d].valid) continue;
                EXPECT_NEAR(got.domains[d].energy_j, want.domains[d].energy_j, 1e-6);
                ASSERT_EQ(got.domains[d].power_w.has_value(), want.domains[d].power_w.has_value());
                if (want.domains[d].power_w) {
                    EXPECT_NEAR(*got.domains[d].power_w, *want.domains[d].power_w, 1e-3);
                }
            }
            ASSERT_EQ(got.telemetry.size(), 3U);
            EXPECT_FALSE(got.telemetry[1].has_value());
            EXPECT_FALSE(got.telemetry[2].has_value());
            ASSERT_EQ(got.telemetry[0].has_value(), want.telemetry[0].has_value()) << r;
            if (!want.telemetry[0]) continue;
            const auto& g = *got.telemetry[0];
            const auto& w = *want.telemetry[0];
            EXPECT_EQ(g.utilisation_pct, w.utilisation_pct);
            EXPECT_EQ(g.temperature_c, w.temperature_c);
            EXPECT_EQ(g.sm_clock_mhz, w.sm_clock_mhz);
            EXPECT_EQ(g.throttle_reasons, w.throttle_reasons);
            ASSERT_EQ(g.enforced_limit.has_value(), w.enforced_limit.has_value());
            if (w.enforced_limit) {
                EXPECT_EQ(g.enforced_limit->value(), w.enforced_limit->value());
            }
        }
    }
}

TEST(SshTraceCsv, BadInputNamesTheLineAndTheProblemAndKeepsTheRowsBefore) {
    const std::string good1 = "0.000000,,10.000000,,20.000000,,5.000000,10,40,1410,0x0,250.000\n";
    const std::string good2 =
        "0.100000,100,20.000000,50,25.000000,5,5.500000,90,41.5,1410,0x4,250.000\n";
    struct Case {
        std::string text;
        std::string error;
        std::size_t rows_kept;
    };
    const std::vector<Case> cases{
        {"", "line 1: no header line: the trace is empty", 0},
        {"time_s,gpu0_power_w\n",
         "line 1: the header has 2 columns, 12 expected: "
         "'gpu0_energy_j' is missing (the measurement's domains are "
         "gpu0, package0, dram0)",
         0},
        {"time_s,gpu0_power_w,gpu0_energy_j,package0_power_w,package0_energy_j,dram1_power_w\n",
         "line 1: header column 6 is 'dram1_power_w', 'dram0_power_w' expected", 0},
        {kHeader.substr(0, kHeader.size() - 1) + ",extra\n",
         "line 1: the header has 13 columns, 12 expected: column 13 'extra' is not one", 0},
        {kHeader + good1 + "0.1,1,2\n", "line 3: 3 fields, the header has 12", 1},
        {kHeader + good1 + "0.200000,abc,20,,,,,,,,,\n",
         "line 3: column 'gpu0_power_w': 'abc' is not a finite number", 1},
        {kHeader + good1 + "0.200000,nan,20,,,,,,,,,\n",
         "line 3: column 'gpu0_power_w': 'nan' is not a finite number", 1},
        {kHeader + good1 + ",,,,,,,,,,,\n", "line 3: column 'time_s' is empty", 1},
        {kHeader + good2 + good1, "line 3: time_s 0.000000 is before the previous row's 0.1", 1},
        {kHeader + good1 + "0.2,5,,,,,,,,,,\n",
         "line 3: column 'gpu0_power_w' has a value but 'gpu0_energy_j' is empty", 1},
        {kHeader + good1 + "0.2,,1,,2,,3,-5,,,,\n",
         "line 3: column 'gpu0_utilisation_pct': '-5' is not a whole number", 1},
        {kHeader + good1 + "0.2,,1,,2,,3,,,,4,\n",
         "line 3: column 'gpu0_throttle_reasons': '4' is not a 0x... bit mask", 1},
        {kHeader + good1 + "0.2,,1,,2,,3,,,,0xzz,\n",
         "line 3: column 'gpu0_throttle_reasons': 'zz' is not a hexadecimal number", 1},
        {kHeader + good1 + "\"0.2\",,1,,2,,3,,,,,\n", "line 3: a quote", 1},
        {kHeader + good1 + good2.substr(0, 20),
         "line 3: the line has no line break: the trace "
         "was cut off",
         1},
        {kHeader + good1 + "0.2\r\n", "line 3: 1 fields, the header has 12", 1},
        {kHeader + good1 + good2 + "-1,,,,,,,,,,,\n", "line 4: time_s -1 is negative", 2},
        {kHeader + std::string(ssh::TraceCsvParser::kMaxLineBytes + 1, '1'),
         "line 2: longer than 1048576 bytes: not a trace row", 0},
    };
    for (const auto& c : cases) {
        std::string error;
        const RecordingSink sink = parse(c.text, error);
        EXPECT_THAT(error, HasSubstr(c.error)) << c.text.substr(0, 200);
        EXPECT_EQ(sink.rows.size(), c.rows_kept) << c.error;
        // The sink got begin() with the header and end() once, so what it holds is written.
        EXPECT_EQ(sink.ended, sink.begun) << c.error;
    }
    // Input after the first problem is ignored (the rows after it are not trusted).
    std::string error;
    const RecordingSink sink = parse(kHeader + "x\n" + good1, error);
    EXPECT_THAT(error, HasSubstr("line 2: 1 fields"));
    EXPECT_TRUE(sink.rows.empty());
    // A header alone is a trace without rows, not an error.
    const RecordingSink empty = parse(kHeader, error);
    EXPECT_EQ(error, "");
    EXPECT_EQ(empty.begun, 1);
    EXPECT_TRUE(empty.rows.empty());
}

// ---------------------------------------------------------------------------------------------

TEST(SshDemuxTrace, TheTraceFollowsTheJsonByItsByteCountAtEveryChunkSize) {
    const std::string nonce = "0123456789abcdef0123456789abcdef";
    const std::string json = "{\"a\": 1}\n";
    const std::string trace = kHeader + "0.0,,1,,2,,3,,,,,\n";
    const std::string stream = ssh::start_line(nonce) + "\nout\n" + ssh::end_line_prefix(nonce) +
                               "0:" + std::to_string(json.size()) + ":" +
                               std::to_string(trace.size()) + "\n" + json + trace + "late";
    for (std::size_t chunk = 1; chunk <= stream.size(); chunk += chunk < 40 ? 1 : 37) {
        std::string body;
        std::string got;
        ssh::OutputDemux demux(
            nonce, [&](std::string_view d) { body.append(d); }, 1024,
            [&](std::string_view d) { got.append(d); });
        bool json_before_trace = true;
        for (std::size_t i = 0; i < stream.size(); i += chunk) {
            demux.feed(std::string_view(stream).substr(i, chunk));
            if (!got.empty() && !demux.json_complete()) json_before_trace = false;
        }
        demux.finish();
        EXPECT_TRUE(json_before_trace);
        ASSERT_TRUE(demux.complete()) << chunk;
        EXPECT_EQ(demux.json(), json);
        EXPECT_EQ(got, trace) << chunk;
        EXPECT_EQ(demux.trace_length(), trace.size());
        EXPECT_EQ(demux.trace_received(), trace.size());
        EXPECT_EQ(body, "outlate");
        EXPECT_EQ(demux.trailing_bytes(), 4U);
    }
}

TEST(SshDemuxTrace, CutOffOldAndMalformedEndLines) {
    const std::string nonce = "n3";
    {
        // Cut off in the trace: the JSON is complete, the run's result is not.
        ssh::OutputDemux demux(nonce, nullptr, 1024, [](std::string_view) {});
        demux.feed(ssh::start_line(nonce) + "\n\n" + ssh::end_line_prefix(nonce) +
                   "0:2:100\n{}time_s");
        demux.finish();
        EXPECT_TRUE(demux.json_complete());
        EXPECT_FALSE(demux.complete());
        EXPECT_EQ(demux.trace_received(), 6U);
        EXPECT_EQ(demux.trace_length(), 100U);
    }
    {
        // An end line without TRACE_LENGTH: no trace.
        ssh::OutputDemux demux(nonce, nullptr);
        demux.feed(ssh::start_line(nonce) + "\n\n" + ssh::end_line_prefix(nonce) + "0:2\n{}");
        EXPECT_TRUE(demux.complete());
        EXPECT_EQ(demux.trace_length(), 0U);
    }
    {
        // No JSON, a trace: the trace still comes through.
        std::string got;
        ssh::OutputDemux demux(nonce, nullptr, 1024, [&](std::string_view d) { got.append(d); });
        demux.feed(ssh::start_line(nonce) + "\n\n" + ssh::end_line_prefix(nonce) + "1:0:3\nabc");
        EXPECT_TRUE(demux.complete());
        EXPECT_EQ(got, "abc");
    }
    for (const char* bad : {"0:2:x\n", "0:2:\n", "0:2:3:4\n", "0::3\n"}) {
        ssh::OutputDemux demux(nonce, nullptr);
        demux.feed(ssh::start_line(nonce) + "\n\n" + ssh::end_line_prefix(nonce) + bad);
        EXPECT_FALSE(demux.ended()) << bad;
        EXPECT_THAT(demux.error(), HasSubstr("malformed")) << bad;
    }
}

}  // namespace
}  // namespace joulebench::environments
