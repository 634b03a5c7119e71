// Stores written by joulebench 0.1.0 (schema 1, commit 404ad62; tests/data/store/*.sql, made by a
// real `joulebench run` with fake NVML and fake RAPL) open with this joulebench and are upgraded
// to schema 2: every warning gets its code, every domain the CPU attribution named gets its
// sharing, nothing that was stored changes, and every reader works on the upgraded store.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "analysis/store_analysis.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "joulebench/warning.hpp"
#include "report/report_data.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// The fixture loaded into a store file of schema 1 (as 0.1.0 left it).
fs::path load_v1(const TempDir& dir, const std::string& name) {
    const fs::path db = dir.path() / (name + ".db");
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    char* message = nullptr;
    const std::string sql =
        read_file(fs::path(JOULEBENCH_TEST_DATA_DIR) / "store" / (name + ".sql"));
    const int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
    sqlite3_free(message);
    sqlite3_close(raw);
    return db;
}

std::int64_t user_version(const fs::path& db) {
    sqlite3* raw = nullptr;
    sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &q, nullptr);
    sqlite3_step(q);
    const std::int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(raw);
    return v;
}

// "<domain>: attributed: A J of the M J measured ... (C of B CPU-s, P%)", as 0.1.0 wrote it.
struct OldAttribution {
    double measured_j = 0;
    double cpu_s = 0;
    double busy_s = 0;
};

std::map<std::string, OldAttribution> attributions(const std::vector<std::string>& warnings) {
    std::map<std::string, OldAttribution> out;
    for (const auto& w : warnings) {
        char domain[64] = {};
        double a = 0, m = 0, c = 0, b = 0, p = 0;
        if (std::sscanf(w.c_str(),
                        "%63[^:]: attributed: %lf J of the %lf J measured while other runs "
                        "overlapped, by this run's share of the machine's busy CPU time (%lf of "
                        "%lf CPU-s, %lf%%)",
                        domain, &a, &m, &c, &b, &p) == 6) {
            out[domain] = {m, c, b};
        }
    }
    return out;
}

TEST(StoreUpgrade, AReadOnlyOpenOfAnOldStoreRefusesAndSaysHow) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-attributed");
    EXPECT_TRUE(Store::needs_upgrade(db));
    try {
        Store store(db, Store::Mode::kReadOnly);
        FAIL() << "read-only open of schema 1";
    } catch (const Error& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr(fmt::format("schema version 1 is older than {}", Store::kSchemaVersion)));
    }
    EXPECT_EQ(user_version(db), 1);  // nothing written
}

TEST(StoreUpgrade, WarningsGetTheirCodesAndDomainsTheirSharingAndNothingElseChanges) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-attributed");
    std::vector<RunRecord> before;
    std::map<std::string, std::vector<DomainRecord>> domains_before;
    {
        // What 0.1.0 stored, read the way it was read then (the run columns have not changed).
        sqlite3* raw = nullptr;
        sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_stmt* q = nullptr;
        sqlite3_prepare_v2(raw,
                           "SELECT run_id, status, energy_j, cpu_energy_j, warnings_json FROM runs "
                           "ORDER BY plan_index",
                           -1, &q, nullptr);
        while (sqlite3_step(q) == SQLITE_ROW) {
            RunRecord r;
            r.run_id = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
            r.status = *run_status_from_string(reinterpret_cast<const char*>(sqlite3_column_text(q, 1)));
            r.energy_j = sqlite3_column_double(q, 2);
            r.cpu_energy_j = sqlite3_column_double(q, 3);
            r.warnings_json = reinterpret_cast<const char*>(sqlite3_column_text(q, 4));
            before.push_back(r);
        }
        sqlite3_finalize(q);
        sqlite3_close(raw);
    }
    ASSERT_EQ(before.size(), 12U);

    const Store store(db, Store::Mode::kExisting);  // a writing open upgrades
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    EXPECT_FALSE(Store::needs_upgrade(db));
    EXPECT_TRUE(store.marked_phases().empty());  // older runs had no marks
    const auto after = store.runs();
    ASSERT_EQ(after.size(), before.size());
    std::size_t attributed_runs = 0;
    std::size_t shared_runs = 0;
    for (std::size_t i = 0; i < after.size(); ++i) {
        const RunRecord& a = after[i];
        const RunRecord& b = before[i];
        ASSERT_EQ(a.run_id, b.run_id);
        EXPECT_EQ(a.status, b.status);
        EXPECT_EQ(a.energy_j, b.energy_j);
        EXPECT_EQ(a.cpu_energy_j, b.cpu_energy_j);
        EXPECT_EQ(a.warnings_json, b.warnings_json);  // the texts stay where they were

        const auto texts = nlohmann::json::parse(b.warnings_json).get<std::vector<std::string>>();
        const std::vector<Warning> coded = store.warnings(a.run_id);
        ASSERT_EQ(coded.size(), texts.size()) << a.run_id;
        for (std::size_t k = 0; k < texts.size(); ++k) {
            EXPECT_EQ(coded[k].text, texts[k]);
            const bool attributed = texts[k].find(": attributed: ") != std::string::npos;
            EXPECT_EQ(coded[k].code, attributed ? warning_code::kCpuAttributed
                                                : warning_code::kCpuShared)
                << texts[k];
        }
        const auto old = attributions(texts);
        for (const auto& d : store.domains(a.run_id)) {
            if (d.kind == "gpu") {
                EXPECT_EQ(d.sharing, Sharing::kAlone) << d.domain;
                continue;
            }
            if (const auto it = old.find(d.domain); it != old.end()) {
                EXPECT_EQ(d.sharing, Sharing::kAttributed) << a.run_id << " " << d.domain;
                ASSERT_TRUE(d.cpu_time_share && d.measured_energy_j);
                EXPECT_DOUBLE_EQ(*d.cpu_time_share,
                                 std::clamp(it->second.cpu_s / it->second.busy_s, 0.0, 1.0));
                EXPECT_DOUBLE_EQ(*d.measured_energy_j, it->second.measured_j);
                EXPECT_LE(d.energy_j, *d.measured_energy_j + 0.001);
            } else {
                EXPECT_EQ(d.sharing, Sharing::kShared) << a.run_id << " " << d.domain;
                EXPECT_FALSE(d.cpu_time_share.has_value());
            }
        }
        attributed_runs += a.cpu_attributed ? 1 : 0;
        shared_runs += a.cpu_shared ? 1 : 0;
        EXPECT_NE(a.cpu_attributed, a.cpu_shared) << a.run_id;  // this store has one or the other
        EXPECT_FALSE(a.total_includes_estimate);
    }
    EXPECT_EQ(attributed_runs, 10U);
    EXPECT_EQ(shared_runs, 2U);
}

TEST(StoreUpgrade, TheEstimateStaysMarkedAndItsWarningCoded) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-estimated");
    const Store store(db, Store::Mode::kReadUpgrade);  // what analyze, report and export use
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    EXPECT_EQ(user_version(db), Store::kSchemaVersion);
    for (const auto& r : store.runs()) {
        EXPECT_TRUE(r.total_includes_estimate) << r.run_id;
        EXPECT_FALSE(r.cpu_attributed || r.cpu_shared);
        const auto warnings = store.warnings(r.run_id);
        ASSERT_FALSE(warnings.empty());
        EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const Warning& w) {
            return w.code == warning_code::kCpuEstimated;
        }));
        for (const auto& w : warnings) EXPECT_NE(w.code, warning_code::kOther) << w.text;
    }
}

TEST(StoreUpgrade, EveryReaderWorksOnAnUpgradedStore) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-attributed");
    const Store store(db, Store::Mode::kReadUpgrade);
    analysis::StoreAnalysisOptions options;
    options.by = analysis::StoreFactor::kGpuCap;
    options.analysis.bootstrap.resamples = 100;
    const auto result = analysis::analyse_store(store, options);
    EXPECT_EQ(result.runs.used, 8U);  // the 8 done runs
    EXPECT_EQ(result.runs.status.failed, 4U);
    report::ReportOptions ro;
    ro.analysis.bootstrap.resamples = 100;
    const auto model = report::build_report(store, ro);
    EXPECT_EQ(model.status.done, 8U);
    EXPECT_FALSE(export_csv(store).empty());
    EXPECT_EQ(export_rows(store).size(), 12U);
    // A second upgrade finds nothing to do; merge takes the upgraded store as an input.
    const Store again(db, Store::Mode::kReadUpgrade);
    EXPECT_EQ(again.schema_version(), Store::kSchemaVersion);
    const auto merged = Store::merge({db}, dir.path() / "merged.db");
    EXPECT_EQ(merged.runs, 12U);
    const Store out(dir.path() / "merged.db", Store::Mode::kReadOnly);
    for (const auto& r : out.runs()) {
        EXPECT_EQ(out.warnings(r.run_id), store.warnings(r.run_id));
        EXPECT_EQ(r.cpu_shared, store.run(r.run_id)->cpu_shared);
    }
}

TEST(StoreUpgrade, MergeUpgradesAnOldInputFirst) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-estimated");
    const auto merged = Store::merge({db}, dir.path() / "merged.db");
    EXPECT_EQ(merged.runs, 2U);
    EXPECT_EQ(user_version(db), Store::kSchemaVersion);
    const Store out(dir.path() / "merged.db", Store::Mode::kReadOnly);
    for (const auto& r : out.runs()) EXPECT_TRUE(r.total_includes_estimate);
}

}  // namespace
// Schema 3 says where each domain was measured: the domains of runs in an ssh environment were
// measured by the remote host's joulebench. The store's experiment file says which environment
// that is (here the fixture's "bare" made an ssh one, before the upgrade).
TEST(StoreUpgrade, DomainsOfSshRunsAreMarkedRemoteAndAllOthersHost) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-attributed");
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw,
                               "UPDATE experiment SET file_text = replace(file_text, "
                               "'type = \"bare\"', 'type = \"ssh\"' || char(10) || "
                               "'host = \"gpu-node\"')",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(raw);
    }
    const Store store(db, Store::Mode::kExisting);
    std::size_t domains = 0;
    for (const auto& r : store.runs({RunStatus::kDone})) {
        for (const auto& d : store.domains(r.run_id)) {
            EXPECT_EQ(d.measured_on, Location::kRemote) << r.run_id << " " << d.domain;
            EXPECT_EQ(d.instance, 0);
            ++domains;
        }
        EXPECT_EQ(r.instances, 0U);
    }
    EXPECT_GT(domains, 0U);

    // Without the change, every domain stays measured here.
    TempDir other;
    const Store plain(load_v1(other, "v1-attributed"), Store::Mode::kExisting);
    for (const auto& r : plain.runs({RunStatus::kDone})) {
        for (const auto& d : plain.domains(r.run_id)) EXPECT_EQ(d.measured_on, Location::kHost);
    }
    // And the observations of a store without gang runs are its runs.
    EXPECT_EQ(plain.observations().size(), plain.runs().size());
}

TEST(StoreUpgrade, SessionsGetTheirNodeFromTheHostNameAndNoSlurmJob) {
    TempDir dir;
    const Store store(load_v1(dir, "v1-attributed"), Store::Mode::kExisting);
    const auto sessions = store.sessions();
    ASSERT_FALSE(sessions.empty());
    for (const auto& s : sessions) {
        EXPECT_EQ(s.node, std::optional<std::string>("vm"));  // host_json's hostname
        EXPECT_FALSE(s.slurm_job_id.has_value());
        EXPECT_FALSE(s.allocation_json.has_value());
    }
    EXPECT_TRUE(store.session_phases().empty());
    EXPECT_EQ(user_version(store.path()), Store::kSchemaVersion);
}

}  // namespace joulebench::test

namespace joulebench::test {
namespace {

// Schema 5 adds a checksum to every run: the upgrade of a schema 4 store (this store with the
// column dropped, as schema 4 had it) computes them, so that the store verifies clean and every
// reader reads it.
TEST(StoreUpgrade, FromSchema4EveryRunGetsAChecksumThatVerifies) {
    TempDir dir;
    const fs::path db = load_v1(dir, "v1-attributed");
    { const Store upgraded(db, Store::Mode::kExisting); }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "ALTER TABLE runs DROP COLUMN checksum; PRAGMA user_version = 4",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    ASSERT_EQ(user_version(db), 4);
    const Store store(db, Store::Mode::kReadUpgrade);
    EXPECT_EQ(user_version(db), Store::kSchemaVersion);
    EXPECT_TRUE(store.damaged_runs().empty());
    EXPECT_EQ(export_rows(store).size(), 12U);
}

}  // namespace
}  // namespace joulebench::test
