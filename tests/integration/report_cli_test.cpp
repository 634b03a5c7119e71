// `joulebench report` as a user runs it: the real binary on a real store, the HTML opened by a real
// headless Chromium (Debian's `chromium`) with name resolution blocked: every chart must draw
// (canvas present, the page's marker set), with no console message, no error and no request the
// page's Content-Security-Policy had to refuse. A screenshot is kept in the build folder.

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <regex>
#include <string>

#include "fakes/test_support.hpp"
#include "unit/report_store_fixture.hpp"

namespace joulebench::test {
namespace {

std::optional<std::string> chromium_binary() {
    if (const char* env = std::getenv("JOULEBENCH_CHROMIUM"); env != nullptr && *env != '\0') {
        return std::string(env);
    }
    for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
        if (std::filesystem::exists(p)) return std::string(p);
    }
    return std::nullopt;
}

std::string body_attribute(const std::string& dom, const std::string& name) {
    const std::regex body_re("<body([^>]*)>");
    std::smatch body;
    if (!std::regex_search(dom, body, body_re)) return {};
    const std::string attrs = body[1].str();
    const std::regex attr_re(name + "=\"([^\"]*)\"");
    std::smatch m;
    if (!std::regex_search(attrs, m, attr_re)) return {};
    return m[1].str();
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) {
        ++n;
    }
    return n;
}

class ReportCli : public ::testing::Test {
protected:
    TempDir dir{"joulebench-report-cli"};
    std::filesystem::path db = dir.path() / "report.db";
};

TEST_F(ReportCli, WritesHtmlMarkdownAndLatex) {
    (void)write_report_store(db);
    const auto html = dir.path() / "report.html";
    const auto r =
        run_joulebench({"report", db.string(), "-o", html.string(), "--resamples", "500"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("report: wrote " + html.string() + " (1 workload, 11 done runs"),
              std::string::npos)
        << r.err;
    const std::string page = read_file(html);
    EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
    EXPECT_NE(page.find("Content-Security-Policy"), std::string::npos);
    EXPECT_NE(page.find("id=\"report-data\""), std::string::npos);
    EXPECT_NE(page.find("vegaEmbed"), std::string::npos);
    // Nothing that the page would load. The markup outside the script elements (whose text
    // is the inlined libraries and the data) has no src attribute at all, and every href is a
    // fragment; no script element has a src.
    std::string markup;
    std::size_t scripts = 0;
    for (std::size_t pos = 0;;) {
        const auto open = page.find("<script", pos);
        markup += page.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
        if (open == std::string::npos) break;
        const auto tag_end = page.find('>', open);
        ASSERT_NE(tag_end, std::string::npos);
        EXPECT_EQ(page.substr(open, tag_end - open).find("src"), std::string::npos);
        const auto close = page.find("</script>", tag_end);
        ASSERT_NE(close, std::string::npos);
        pos = close + 9;
        ++scripts;
    }
    EXPECT_EQ(scripts, 5u);  // data, vega, vega-lite, vega-embed, report.js
    const std::regex src_re("<[a-zA-Z]+[^>]*\\s(src|srcset|poster|action)\\s*=", std::regex::icase);
    EXPECT_FALSE(std::regex_search(markup, src_re));
    const std::regex href_re("href\\s*=\\s*\"([^\"]*)\"", std::regex::icase);
    std::size_t links = 0;
    for (auto it = std::sregex_iterator(markup.begin(), markup.end(), href_re);
         it != std::sregex_iterator(); ++it, ++links) {
        EXPECT_TRUE((*it)[1].str().starts_with("#")) << (*it)[1].str();
    }
    EXPECT_GE(links, 3u);  // the navigation
    EXPECT_EQ(markup.find("http://"), std::string::npos);
    EXPECT_EQ(markup.find("https://"), std::string::npos);

    const auto md = dir.path() / "report.md";
    const auto rm = run_joulebench(
        {"report", db.string(), "-o", md.string(), "--format", "md", "--resamples", "500"});
    ASSERT_EQ(rm.exit_code, 0) << rm.err;
    const std::string md_text = read_file(md);
    EXPECT_NE(md_text.find("# joulebench report: report-test"), std::string::npos);
    EXPECT_NE(md_text.find("| docker | 2 |"), std::string::npos) << md_text;

    const auto tex = dir.path() / "report.tex";
    const auto rt = run_joulebench(
        {"report", db.string(), "-o", tex.string(), "--format", "tex", "--baseline", "docker"});
    ASSERT_EQ(rt.exit_code, 0) << rt.err;
    const std::string tex_text = read_file(tex);
    EXPECT_NE(tex_text.find("\\begin{tabular}"), std::string::npos);
    EXPECT_NE(tex_text.find("Overhead against 'docker'"), std::string::npos);
}

TEST_F(ReportCli, BadInputGetsAClearError) {
    const auto out = dir.path() / "out.html";
    auto r = run_joulebench({"report", (dir.path() / "missing.db").string(), "-o", out.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("missing.db"), std::string::npos) << r.err;
    // Every error has its hint (docs/report.md; issue 22, item 13).
    EXPECT_NE(r.err.find("hint: give the .db file written by `joulebench run`"), std::string::npos) << r.err;
    // --help says the default baseline as the code picks it: the first bare environment.
    const auto help = run_joulebench({"report", "--help"});
    EXPECT_NE(help.out.find("first environment of type bare"), std::string::npos) << help.out;

    const auto text = dir.path() / "notes.db";
    write_file(text, "this is not a database\n");
    r = run_joulebench({"report", text.string(), "-o", out.string()});
    EXPECT_EQ(r.exit_code, 2);  // kInvalidArgument: the wrong file was given
    EXPECT_NE(r.err.find("not a joulebench store"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("notes.db"), std::string::npos) << r.err;

    // A SQLite database of another program.
    const auto other = dir.path() / "other.db";
    const auto made = run_process({"/usr/bin/python3", "-c",
                                   "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                                   "c.execute('CREATE TABLE t (x)'); c.commit()",
                                   other.string()});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    r = run_joulebench({"report", other.string(), "-o", out.string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("other.db"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("not a joulebench store"), std::string::npos) << r.err;

    {
        Store store(db);
        const auto spec = parse_experiment_text(report_experiment({}), "report-test.toml");
        store.record_experiment(experiment_record(spec));
        store.add_planned_runs(make_plan(spec).runs);
    }
    r = run_joulebench({"report", db.string(), "-o", out.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no done run to report"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint:"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));

    r = run_joulebench({"report", db.string(), "-o", out.string(), "--format", "pdf"});
    EXPECT_EQ(r.exit_code, 2);
    r = run_joulebench({"report", db.string()});
    EXPECT_EQ(r.exit_code, 2) << "-o is required";
}

struct BrowserCase {
    const char* name;
    bool capped;
    bool cpu_caps;
};

class ReportBrowser : public ::testing::TestWithParam<BrowserCase> {};

TEST_P(ReportBrowser, EveryChartDrawsOfflineWithoutConsoleMessages) {
    const auto chromium = chromium_binary();
    if (!chromium) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
    TempDir dir{"joulebench-report-browser"};
    const auto db = dir.path() / "report.db";
    ReportStoreOptions o;
    o.capped = GetParam().capped;
    o.cpu_caps = GetParam().cpu_caps;
    (void)write_report_store(db, o);
    const auto html = dir.path() / "report.html";
    const auto r =
        run_joulebench({"report", db.string(), "-o", html.string(), "--resamples", "500"});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const std::vector<std::string> common = {
        *chromium,
        "--headless=new",
        "--no-sandbox",  // the tests run as root
        "--disable-gpu",
        "--no-first-run",
        "--user-data-dir=" + (dir.path() / "profile").string(),
        "--host-resolver-rules=MAP * ~NOTFOUND",  // no name resolves: no request could succeed
        "--enable-logging=stderr",
        "--v=0",
        // Chromium waits until the page is idle (or this much virtual time has passed) before it
        // dumps or shoots: every vega-embed promise has settled by then.
        "--virtual-time-budget=60000",
    };
    ProcessOptions po;
    po.timeout = std::chrono::seconds(180);
    auto dump_args = common;
    dump_args.push_back("--dump-dom");
    dump_args.push_back("file://" + html.string());
    const auto dump = run_process(dump_args, po);
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    const std::string& dom = dump.out;
    EXPECT_EQ(body_attribute(dom, "data-done"), "1") << "the page never finished: " << dump.err;
    const std::string expected = body_attribute(dom, "data-charts-expected");
    const std::string rendered = body_attribute(dom, "data-charts-rendered");
    // curves, overheads, distributions, trace, order.
    EXPECT_EQ(expected, "5");
    EXPECT_EQ(rendered, expected) << body_attribute(dom, "data-error-text");
    EXPECT_EQ(body_attribute(dom, "data-charts-empty"), "0");
    EXPECT_EQ(body_attribute(dom, "data-errors"), "0") << body_attribute(dom, "data-error-text");
    EXPECT_EQ(body_attribute(dom, "data-blocked-requests"), "0");
    // Each chart drew on a canvas and offers the export menu.
    EXPECT_EQ(count(dom, "<canvas"), 5u);
    EXPECT_EQ(count(dom, "class=\"vega-actions\""), 5u);
    // No console message at all (vega warnings included), no failed load.
    std::istringstream lines(dump.err);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_EQ(line.find(":CONSOLE"), std::string::npos) << line;
        EXPECT_EQ(line.find("net::ERR"), std::string::npos) << line;
    }

    const std::filesystem::path shot = std::filesystem::path(JOULEBENCH_BINARY_PATH).parent_path() /
                                       (std::string("report-test-") + GetParam().name + ".png");
    std::filesystem::remove(shot);
    auto shot_args = common;
    shot_args.push_back("--screenshot=" + shot.string());
    shot_args.push_back("--window-size=1400,4000");
    shot_args.push_back("file://" + html.string());
    const auto s = run_process(shot_args, po);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    ASSERT_TRUE(std::filesystem::exists(shot));
    EXPECT_GT(std::filesystem::file_size(shot), 20000u) << "a blank page?";
    std::cout << "screenshot: " << shot.string() << "\n";
    RecordProperty("screenshot", shot.string());
}

INSTANTIATE_TEST_SUITE_P(Stores, ReportBrowser,
                         ::testing::Values(BrowserCase{"capped", true, false},
                                           BrowserCase{"uncapped", false, false},
                                           BrowserCase{"gpu_and_cpu_caps", true, true}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace joulebench::test
