// Progress lines, ETA, and the helpers that read a workload's output (stderr tail, metrics line).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "fakes/test_support.hpp"
#include "runner/progress.hpp"
#include "runner/runner.hpp"

namespace joulebench::runner {
namespace {

using ::testing::HasSubstr;

TEST(RunnerProgress, EtaIsMeanRunTimeTimesRemainingOverSlots) {
    EXPECT_EQ(Progress::eta_text(0, 10.0, 1), "0s");
    EXPECT_EQ(Progress::eta_text(6, 10.0, 1), format_duration_ms(std::chrono::seconds(60)));
    EXPECT_EQ(Progress::eta_text(6, 10.0, 2), format_duration_ms(std::chrono::seconds(30)));
    EXPECT_EQ(Progress::eta_text(100, 36.0, 1), format_duration_ms(std::chrono::seconds(3600)));
}

TEST(RunnerProgress, OneLinePerRunWhenNotATerminal) {
    test::TempDir dir;
    const auto path = dir.path() / "progress.txt";
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    RunSpec a;
    a.run_id = "0123456789abcdef";
    a.workload = "resnet";
    a.environment = "bare";
    a.gpu_cap_w = 137.5;
    a.repetition = 3;
    RunSpec b = a;
    b.run_id = "fedcba9876543210";
    b.gpu_cap_w.reset();
    {
        Progress p(f, false, 10, 4, 2);
        p.add_pending(6);
        p.started(a, 1);
        p.finished(a, 1, RunStatus::kDone, 1.25, 42.0, "");
        p.started(b, std::nullopt);
        p.finished(b, std::nullopt, RunStatus::kFailed, 0.5, std::nullopt, "exit status 3: boom");
        RunSpec c = b;
        c.run_id = "00000000000000cc";
        p.started(c, std::nullopt);
        p.finished(c, std::nullopt, RunStatus::kDone, 2.0, 3.0, "", "CPU estimated");
        p.close();
    }
    std::fclose(f);
    const std::string text = test::read_file(path);
    EXPECT_THAT(text, HasSubstr("[5/10] done        resnet/bare/137.5 W/#3 (0123456789abcdef)  GPU "
                                "1  1.25 s  42.0 J\n"));
    EXPECT_THAT(
        text,
        HasSubstr(
            "[6/10] failed      resnet/bare/#3 (fedcba9876543210)  0.50 s  exit status 3: boom\n"));
    // A total that is not purely measured says how it was obtained.
    EXPECT_THAT(text, HasSubstr("(00000000000000cc)  2.00 s  3.0 J (CPU estimated)\n"));
    EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(RunnerProgress, OneRewrittenLineOnATerminalWithEtaAndCurrentRuns) {
    test::TempDir dir;
    const auto path = dir.path() / "tty.txt";
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    RunSpec a;
    a.run_id = "0123456789abcdef";
    a.workload = "w";
    a.environment = "bare";
    a.repetition = 1;
    RunSpec b = a;
    b.run_id = "1111111111111111";
    b.repetition = 2;
    {
        Progress p(f, true, 4, 0, 1);
        p.add_pending(4);
        p.started(a, 0);
        p.finished(a, 0, RunStatus::kDone, 0.1, 1.0, "");
        p.started(b, 0);
        p.close();
    }
    std::fclose(f);
    const std::string text = test::read_file(path);
    EXPECT_THAT(text, HasSubstr("\r\033[J"));  // the line is rewritten, not appended
    EXPECT_THAT(text, HasSubstr("[1/4] 0 failed  ETA "));
    EXPECT_THAT(text, HasSubstr("running: w/bare/#2 on GPU 0"));
    // A done run gets no line of its own on a terminal.
    EXPECT_EQ(text.find("done "), std::string::npos);
}

// With a live state, the terminal shows the dashboard: several lines, rewritten by going back up
// to its first line and erasing to the end of the screen; a failure is printed above it.
TEST(RunnerProgress, WithALiveStateTheDashboardIsRewrittenInPlaceAndFailuresStayAboveIt) {
    test::TempDir dir;
    const auto path = dir.path() / "tty.txt";
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    RunSpec a;
    a.run_id = "0123456789abcdef";
    a.workload = "w";
    a.environment = "bare";
    a.repetition = 1;
    RunSpec b = a;
    b.run_id = "1111111111111111";
    b.repetition = 2;
    live::LiveState state("n1", "run");
    state.set_experiment("exp");
    {
        Progress p(f, true, 4, 0, 1);
        p.set_live(&state);
        p.add_pending(4);
        p.started(a, 0);
        p.finished(a, 0, RunStatus::kDone, 0.1, 1.0, "");
        p.started(b, 0);
        p.finished(b, 0, RunStatus::kFailed, 0.1, 1.0, "exit status 2");
        p.close();
    }
    std::fclose(f);
    const std::string text = test::read_file(path);
    EXPECT_THAT(text, HasSubstr("joulebench run: exp  ["));
    EXPECT_THAT(text, HasSubstr("  GPU 0  w/bare/#2"));  // in flight
    EXPECT_THAT(text, HasSubstr("  done   w/bare/#1  0.10 s  1.0 J"));
    EXPECT_THAT(text, HasSubstr("\033[1A\r\033[J"));  // a block of two lines, erased from its top
    EXPECT_THAT(text, HasSubstr("failed      w/bare/#2 (1111111111111111)  GPU 0  0.10 s  1.0 J  exit status 2\n"));
    // At the end the dashboard is erased: the text ends with the erase sequence.
    EXPECT_TRUE(text.size() >= 4 && text.substr(text.size() - 4) == "\r\033[J") << text;
}

TEST(RunnerProgress, FileTailKeepsTheLastBytesFromALineStart) {
    test::TempDir dir;
    const auto path = dir.path() / "err";
    test::write_file(path, "aaaa\nbbbb\ncccc\n");
    EXPECT_EQ(file_tail(path, 100), "aaaa\nbbbb\ncccc\n");
    EXPECT_EQ(file_tail(path, 8), "cccc\n");         // "bbb\ncccc\n" cut at the partial line
    EXPECT_EQ(file_tail(path, 10), "bbbb\ncccc\n");  // the window starts at a line start
    EXPECT_EQ(file_tail(dir.path() / "missing", 10), "");
    std::string big(10000, 'x');
    test::write_file(path, big);
    EXPECT_EQ(file_tail(path, 4096).size(), 4096U);  // one long line: kept as the last bytes
}

TEST(RunnerProgress, LastJsonObjectLine) {
    EXPECT_EQ(last_json_object_line("starting\n{\"a\": 1}\nmore text\n{\"b\": [2]}\ndone\n"),
              R"({"b":[2]})");
    EXPECT_EQ(last_json_object_line("  {\"x\": true}  "), R"({"x":true})");
    EXPECT_EQ(last_json_object_line("[1, 2]\n{not json\n"), "");
    EXPECT_EQ(last_json_object_line(""), "");
}

}  // namespace
}  // namespace joulebench::runner
