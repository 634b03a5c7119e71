// The store file: created from nothing (and from an empty file) at the current schema, WAL mode,
// foreign keys on, a newer schema refused, other files refused, the experiment recorded once and a
// changed file refused with a hint to use --new.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

std::int64_t pragma(sqlite3* db, const char* name) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, (std::string("PRAGMA ") + name).c_str(), -1, &stmt, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    const std::int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

void raw_exec(const std::filesystem::path& path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message != nullptr ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << text;
}

TEST(StoreSchema, CreatesCurrentSchemaInWalModeWithForeignKeys) {
    test::TempDir dir;
    const auto path = dir.path() / "new.db";
    Store store(path);
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    EXPECT_EQ(store.journal_mode(), "wal");
    EXPECT_EQ(pragma(store.handle(), "foreign_keys"), 1);
    EXPECT_EQ(pragma(store.handle(), "application_id"), 0x4a427374);
    EXPECT_FALSE(store.experiment().has_value());
    EXPECT_EQ(store.status_counts().total(), 0u);
}

TEST(StoreSchema, MigratesAnEmptyFileAndAnUnversionedStore) {
    test::TempDir dir;
    const auto path = dir.path() / "empty.db";
    test::write_file(path, "");  // a 0-byte file is an empty SQLite database at version 0
    {
        Store store(path, Store::Mode::kExisting);
        EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    }
    // Reopening a migrated store changes nothing.
    Store again(path, Store::Mode::kExisting);
    EXPECT_EQ(again.schema_version(), Store::kSchemaVersion);
}

TEST(StoreSchema, RefusesANewerSchema) {
    test::TempDir dir;
    const auto path = dir.path() / "future.db";
    { Store store(path); }
    raw_exec(path, "PRAGMA user_version = 99");
    for (const auto mode : {Store::Mode::kCreate, Store::Mode::kExisting, Store::Mode::kReadOnly}) {
        try {
            Store store(path, mode);
            FAIL() << "opened a store of schema 99";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kNotSupported);
            const std::string message = e.what();
            EXPECT_NE(message.find("schema version 99 is newer"), std::string::npos) << message;
            EXPECT_NE(message.find(path.string()), std::string::npos) << message;
            EXPECT_NE(e.hint().find("newer joulebench"), std::string::npos);
        }
    }
}

TEST(StoreSchema, ReadOnlyDoesNotMigrate) {
    test::TempDir dir;
    const auto path = dir.path() / "old.db";
    test::write_file(path, "");
    try {
        Store store(path, Store::Mode::kReadOnly);
        FAIL() << "read-only open migrated";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("older"), std::string::npos) << e.what();
    }
}

TEST(StoreSchema, RefusesFilesThatAreNotStores) {
    test::TempDir dir;
    const auto text = dir.path() / "notes.db";
    test::write_file(text, std::string(4096, 'x'));
    try {
        Store store(text, Store::Mode::kExisting);
        FAIL() << "opened a text file";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("not a joulebench store"), std::string::npos)
            << e.what();
    }
    const auto other = dir.path() / "other.db";
    raw_exec(other, "CREATE TABLE t (x)");
    try {
        Store store(other);
        FAIL() << "opened a foreign SQLite database";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a joulebench store"), std::string::npos)
            << e.what();
    }
    try {
        Store store(dir.path() / "missing.db", Store::Mode::kExisting);
        FAIL() << "opened a missing file";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
    }
}

TEST(StoreSchema, RecordsTheExperimentOnceAndRefusesAChangedFile) {
    test::TempDir dir;
    const auto path = dir.path() / "e.db";
    const ExperimentSpec spec = test::store_example_spec();
    {
        Store store(path);
        EXPECT_TRUE(store.record_experiment(experiment_record(spec)));
        EXPECT_FALSE(store.record_experiment(experiment_record(spec)));  // a resume
    }
    Store store(path, Store::Mode::kExisting);
    const auto record = store.experiment();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->name, "store-test");
    EXPECT_EQ(record->file_text, spec.source_text);
    EXPECT_EQ(record->file_sha256, spec.source_sha256);
    EXPECT_EQ(record->seed, 3u);
    EXPECT_TRUE(record->seed_given);
    EXPECT_EQ(record->joulebench_version, JOULEBENCH_VERSION);

    // A comment is not the experiment: a resume, and the text recorded first stays.
    const ExperimentSpec commented =
        parse_experiment_text(spec.source_text + "# a comment\n", "store-test.toml");
    EXPECT_FALSE(store.record_experiment(experiment_record(commented)));
    EXPECT_EQ(store.experiment()->file_text, spec.source_text);
    const auto at = spec.source_text.find("repetitions = 2");
    ASSERT_NE(at, std::string::npos);
    std::string more = spec.source_text;
    more.replace(at, 15, "repetitions = 3");
    const ExperimentSpec changed = parse_experiment_text(more, "store-test.toml");
    try {
        store.record_experiment(experiment_record(changed));
        FAIL() << "a changed file was accepted";
    } catch (const ExperimentChangedError& e) {
        EXPECT_NE(std::string(e.what()).find("differs"), std::string::npos) << e.what();
        EXPECT_NE(e.hint().find("--new"), std::string::npos);
    }
    EXPECT_EQ(store.experiment()->file_sha256, spec.source_sha256);
}

TEST(StoreSchema, SetAsideKeepsTheOldStore) {
    test::TempDir dir;
    const auto path = dir.path() / "e.db";
    {
        Store store(path);
        store.record_experiment(experiment_record(test::store_example_spec()));
    }
    const auto moved = Store::set_aside(path);
    ASSERT_TRUE(moved.has_value());
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_NE(moved->string().find("e.db.replaced-"), std::string::npos);
    Store old(*moved, Store::Mode::kReadOnly);
    EXPECT_EQ(old.experiment()->name, "store-test");
    EXPECT_FALSE(Store::set_aside(dir.path() / "none.db").has_value());
}

}  // namespace
}  // namespace joulebench
