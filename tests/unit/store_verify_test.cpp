// Damaged and read-only stores (issue 13, defect 8): every run's stored result carries a checksum
// that readers verify, so a value changed outside joulebench (a flipped byte) is refused naming
// the file and the run instead of being exported; SQLite's errors name the file; invalid UTF-8
// never breaks the JSON export; and a read-only (archived) store is read without writing anything
// beside it or into it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "analysis/store_analysis.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "report/report_data.hpp"
#include "store/checksum.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Changes a store as a disk or another program would: through SQLite, bypassing joulebench.
void tamper(const fs::path& db, const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    char* message = nullptr;
    const int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
    sqlite3_free(message);
    sqlite3_close(raw);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return std::string(e.what()) + "\nhint: " + e.hint();
    }
    return "no error";
}

class StoreVerify : public ::testing::Test {
protected:
    void SetUp() override {
        m_spec = test::store_example_spec();
        m_plan = make_plan(m_spec);
    }
    const std::string& id(std::size_t i) const { return m_plan.runs.at(i).run_id; }

    // A store with every run planned and the first two done.
    fs::path make_store(const std::string& name) {
        const fs::path path = m_dir.path() / name;
        Store store(path);
        store.record_experiment(experiment_record(m_spec));
        store.add_planned_runs(m_plan.runs);
        SessionInfo session;
        session.host_json = R"({"hostname":"n1"})";
        session.node = "n1";
        const auto s = store.begin_session(session);
        for (std::size_t i = 0; i < 2; ++i) {
            store.mark_running(id(i), s, 0, 1700000000.0 + static_cast<double>(i));
            store.finish_run(
                test::outcome(id(i), RunStatus::kDone, test::example_measure(1700000000.0)));
        }
        return path;
    }

    test::TempDir m_dir;
    ExperimentSpec m_spec;
    Plan m_plan;
};

TEST_F(StoreVerify, AStoreWrittenByJoulebenchVerifiesClean) {
    const fs::path db = make_store("a.db");
    {
        Store store(db, Store::Mode::kExisting);
        store.mark_stale_running_interrupted();
        EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    }
    const Store store(db, Store::Mode::kReadOnly);
    EXPECT_TRUE(store.damaged_runs().empty());
    EXPECT_TRUE(store.integrity_problems().empty());
    // The merged copy (sessions renumbered) verifies too.
    Store::merge({db}, m_dir.path() / "merged.db");
    const Store merged(m_dir.path() / "merged.db", Store::Mode::kReadOnly);
    EXPECT_TRUE(merged.damaged_runs().empty());
}

TEST_F(StoreVerify, AFlippedCapIsRefusedNamingTheFileAndTheRun) {
    const fs::path db = make_store("a.db");
    tamper(db, "UPDATE runs SET gpu_cap_w = -56 WHERE run_id = '" + id(1) + "'");
    const std::string e = error_of([&] { (void)export_csv(Store(db, Store::Mode::kReadUpgrade)); });
    EXPECT_THAT(e, HasSubstr(db.string()));
    EXPECT_THAT(e, HasSubstr("run " + id(1) + " does not match its checksum"));
    EXPECT_THAT(e, HasSubstr("joulebench verify"));
    const Store inspect(db, Store::Mode::kInspect);
    EXPECT_EQ(inspect.damaged_runs(), std::vector<std::string>{id(1)});
    EXPECT_TRUE(inspect.integrity_problems().empty());
}

TEST_F(StoreVerify, DomainsWarningsAndTheSessionNodeAreCoveredToo) {
    for (const std::string& sql :
         {"UPDATE run_domains SET energy_j = energy_j + 1 WHERE run_id = '" + id(0) + "'",
          "UPDATE run_warnings SET code = 'other' WHERE run_id = '" + id(0) + "'",
          std::string("UPDATE sessions SET node = 'n2'"),
          "UPDATE runs SET status = 'failed' WHERE run_id = '" + id(0) + "'"}) {
        const fs::path db = make_store("a.db");
        tamper(db, sql);
        const Store store(db, Store::Mode::kInspect);
        const auto damaged = store.damaged_runs();
        ASSERT_FALSE(damaged.empty()) << sql;
        EXPECT_EQ(damaged.front(), id(0)) << sql;
        fs::remove(db);
    }
}

TEST_F(StoreVerify, MergeOfAGoodAndADamagedStoreNamesTheDamagedOne) {
    const fs::path good = make_store("good.db");
    const fs::path bad = make_store("bad.db");
    tamper(bad, "UPDATE runs SET energy_j = 1e9 WHERE run_id = '" + id(0) + "'");
    const std::string e = error_of([&] { Store::merge({good, bad}, m_dir.path() / "c.db"); });
    EXPECT_THAT(e, HasSubstr(bad.string()));
    EXPECT_THAT(e, Not(HasSubstr(good.string())));
    EXPECT_FALSE(fs::exists(m_dir.path() / "c.db"));
}

TEST_F(StoreVerify, ATruncatedOrGarbledFileIsAnErrorNamingIt) {
    const fs::path good = make_store("good.db");
    const fs::path truncated = make_store("truncated.db");
    fs::resize_file(truncated, 8192);  // the header and two pages of many
    const fs::path garbled = m_dir.path() / "garbled.db";
    test::write_file(garbled, std::string(4096, '\x5a'));
    for (const fs::path& bad : {truncated, garbled}) {
        const std::string e = error_of([&] { Store::merge({good, bad}, m_dir.path() / "c.db"); });
        EXPECT_THAT(e, HasSubstr(bad.string()));
        EXPECT_THAT(e, Not(HasSubstr(good.string())));
        const std::string read = error_of([&] { (void)Store(bad, Store::Mode::kReadUpgrade); });
        EXPECT_THAT(read, HasSubstr(bad.string()));
    }
}

TEST_F(StoreVerify, InvalidUtf8InATextColumnExportsAsJsonWithReplacements) {
    const fs::path db = make_store("a.db");
    {
        Store store(db, Store::Mode::kExisting);
        // A store that holds such bytes legitimately (its checksum written with them).
        tamper(db,
               "UPDATE runs SET workload = CAST(X'77FF41' AS TEXT) WHERE run_id = '" + id(0) + "'");
        store_detail::RunHasher(store.handle()).write(id(0));
    }
    const Store store(db, Store::Mode::kReadOnly);
    std::string json;
    bool replaced = false;
    ASSERT_NO_THROW(json = export_json(store, &replaced));
    EXPECT_TRUE(replaced);
    EXPECT_THAT(json, HasSubstr("w\xEF\xBF\xBD"
                                "A"));
    EXPECT_TRUE(nlohmann::json::accept(json));
    (void)export_json(Store(make_store("b.db"), Store::Mode::kReadOnly), &replaced);
    EXPECT_FALSE(replaced);
    EXPECT_NO_THROW((void)export_csv(store));
}

struct FileState {
    std::string bytes;
    fs::file_time_type mtime;
    bool operator==(const FileState&) const = default;
};

FileState state_of(const fs::path& p) {
    return {test::read_file(p), fs::last_write_time(p)};
}

// Everything a reading command does: export, analyze, report.
void read_like_the_commands(const fs::path& db) {
    const Store store(db, Store::Mode::kReadUpgrade);
    EXPECT_FALSE(export_csv(store).empty());
    EXPECT_FALSE(export_json(store).empty());
    analysis::StoreAnalysisOptions options;
    options.analysis.bootstrap.resamples = 100;
    (void)analysis::analyse_store(store, options);
    report::ReportOptions ro;
    ro.analysis.bootstrap.resamples = 100;
    (void)report::build_report(store, ro);
}

TEST_F(StoreVerify, AReadOnlyStoreIsReadWithoutWritingAnything) {
    const fs::path db = make_store("a.db");
    fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    const FileState before = state_of(db);
    read_like_the_commands(db);
    EXPECT_EQ(state_of(db), before);
    for (const char* suffix : {"-wal", "-shm", "-journal"})
        EXPECT_FALSE(fs::exists(db.string() + suffix)) << suffix;
    EXPECT_EQ(std::distance(fs::directory_iterator(m_dir.path()), fs::directory_iterator()), 1);
}

// A folder where no file can be created, even by root: `chattr +i` (ext4, xfs, btrfs, tmpfs
// since Linux 6.0); skipped where the file system or the user cannot set it.
class ImmutableFolder {
public:
    explicit ImmutableFolder(fs::path folder) : m_folder(std::move(folder)) {
        m_set = std::system(("chattr +i '" + m_folder.string() + "' 2>/dev/null").c_str()) == 0;
    }
    ~ImmutableFolder() {
        if (m_set) (void)std::system(("chattr -i '" + m_folder.string() + "'").c_str());
    }
    ImmutableFolder(const ImmutableFolder&) = delete;
    ImmutableFolder& operator=(const ImmutableFolder&) = delete;
    [[nodiscard]] bool set() const { return m_set; }

private:
    fs::path m_folder;
    bool m_set = false;
};

TEST_F(StoreVerify, AStoreInAFolderWhereNothingCanBeCreatedIsRead) {
    const fs::path folder = m_dir.path() / "archive";
    fs::create_directory(folder);
    const fs::path db = folder / "a.db";
    fs::copy_file(make_store("a.db"), db);
    // The same store as schema 4 (the checksum column dropped), which needs an upgrade.
    const fs::path old = folder / "old.db";
    fs::copy_file(db, old);
    tamper(old, "ALTER TABLE runs DROP COLUMN checksum; PRAGMA user_version = 4;");
    const ImmutableFolder immutable(folder);
    if (!immutable.set()) GTEST_SKIP() << "chattr +i is not available on this file system";
    const FileState before = state_of(db);
    read_like_the_commands(db);
    EXPECT_EQ(state_of(db), before);
    EXPECT_EQ(std::distance(fs::directory_iterator(folder), fs::directory_iterator()), 2);
    const std::string e = error_of([&] { (void)Store(old, Store::Mode::kReadUpgrade); });
    EXPECT_THAT(e, HasSubstr(old.string()));
    EXPECT_THAT(e, HasSubstr("cannot be upgraded"));
    EXPECT_THAT(e, HasSubstr("copy it to a writable folder"));
}

}  // namespace
}  // namespace joulebench
