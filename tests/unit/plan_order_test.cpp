// The plan: expansion counts, stable run ids, the three orders, the seeded order reproducible
// forever (golden values computed independently in Python: MT19937-64 reference algorithm,
// rejection draw, Fisher-Yates, hashlib SHA-256), and shards that partition the plan exactly.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "common/sha256.hpp"

namespace joulebench {
namespace {

const std::string kPlanDataDir = std::string(JOULEBENCH_TEST_DATA_DIR) + "/experiments";

ExperimentSpec example() {
    return parse_experiment_file(kPlanDataDir + "/docker-vs-bare.toml");
}

TEST(Sha256, KnownVectors) {
    // FIPS 180-4 examples and a multi-block message (checked with Python's hashlib).
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // Fed in pieces that straddle block boundaries: the same digest.
    Sha256 pieces;
    const std::string message(200, 'x');
    for (std::size_t i = 0; i < message.size(); i += 7)
        pieces.update(std::string_view(message).substr(i, 7));
    const auto digest = pieces.finish();
    EXPECT_EQ(to_hex(digest.data(), digest.size()), sha256_hex(message));
}

TEST(Plan, ExpandsEveryFactorOnce) {
    const Plan plan = make_plan(example());
    EXPECT_EQ(plan.variants, 12u);  // 2 workloads x 2 environments x 3 caps
    EXPECT_EQ(plan.total_runs, 120u);
    ASSERT_EQ(plan.runs.size(), 120u);
    std::map<std::tuple<std::string, std::string, double>, std::set<unsigned>> reps;
    std::set<std::string> ids;
    for (std::size_t i = 0; i < plan.runs.size(); ++i) {
        const RunSpec& run = plan.runs[i];
        EXPECT_EQ(run.plan_index, i);
        ASSERT_TRUE(run.gpu_cap_w.has_value());
        EXPECT_FALSE(run.cpu_cap_w.has_value());
        reps[{run.workload, run.environment, *run.gpu_cap_w}].insert(run.repetition);
        ids.insert(run.run_id);
        EXPECT_EQ(run.run_id, run_id("docker-vs-bare", run.workload, run.environment, run.gpu_cap_w,
                                     run.cpu_cap_w, run.repetition));
    }
    EXPECT_EQ(ids.size(), 120u);
    ASSERT_EQ(reps.size(), 12u);
    for (const auto& [variant, r] : reps) {
        EXPECT_EQ(r.size(), 10u);
        EXPECT_EQ(*r.begin(), 1u);
        EXPECT_EQ(*r.rbegin(), 10u);
    }
    EXPECT_TRUE(plan.warnings.empty());
}

TEST(Plan, CpuCapsMultiplyAndNoCapsIsOneLevel) {
    const ExperimentSpec kvm = parse_experiment_file(kPlanDataDir + "/kvm-guest.toml");
    const Plan plan = make_plan(kvm);
    EXPECT_EQ(plan.variants, 1u * 2u * 20u * 2u);
    EXPECT_EQ(plan.total_runs, 80u * 3u);

    ExperimentSpec uncapped = example();
    uncapped.power_caps.gpu_w.clear();
    const Plan u = make_plan(uncapped);
    EXPECT_EQ(u.variants, 4u);
    for (const auto& run : u.runs) EXPECT_FALSE(run.gpu_cap_w.has_value());
}

TEST(Plan, RunIdsAreStableGoldenValues) {
    // Computed in Python: sha256("joulebench-run-v1\nx\nw\nbare\n-\n-\n1")[:16].
    EXPECT_EQ(run_id("x", "w", "bare", std::nullopt, std::nullopt, 1), "c67185dc5a4977dc");
    // Same factors, same id; any factor changes it.
    const std::string base = run_id("e", "w", "docker", 250.0, std::nullopt, 3);
    EXPECT_EQ(base, run_id("e", "w", "docker", 250.0, std::nullopt, 3));
    EXPECT_NE(base, run_id("f", "w", "docker", 250.0, std::nullopt, 3));
    EXPECT_NE(base, run_id("e", "v", "docker", 250.0, std::nullopt, 3));
    EXPECT_NE(base, run_id("e", "w", "bare", 250.0, std::nullopt, 3));
    EXPECT_NE(base, run_id("e", "w", "docker", 250.5, std::nullopt, 3));
    EXPECT_NE(base, run_id("e", "w", "docker", 250.0, 250.0, 3));
    EXPECT_NE(base, run_id("e", "w", "docker", std::nullopt, 250.0, 3));
    EXPECT_NE(base, run_id("e", "w", "docker", 250.0, std::nullopt, 4));
    EXPECT_EQ(base.size(), 16u);
}

TEST(Plan, ShuffledOrderIsTheSameForever) {
    // Golden: seed 7, the README example. If this fails, plans recorded in existing stores would
    // no longer resume in the same order: never change it, add a new order instead.
    const Plan plan = make_plan(example());
    const std::vector<std::pair<std::string, std::size_t>> golden = {
        {"a0343e8fc8726bfe", 4}, {"91b6fc6d0ccfb3c5", 0},  {"41b5a750b0626314", 2},
        {"0043151557386116", 6}, {"d345202ef035704f", 10}, {"d9946ac87f04e10e", 9},
        {"98dd37f184283bea", 1}, {"3a0bddcc599d2403", 5},
    };
    for (std::size_t i = 0; i < golden.size(); ++i) {
        EXPECT_EQ(plan.runs[i].run_id, golden[i].first) << i;
        EXPECT_EQ(plan.runs[i].variant, golden[i].second) << i;
        EXPECT_EQ(plan.runs[i].repetition, 1u);
    }
    // The same again, and the seed matters.
    const Plan again = make_plan(example());
    for (std::size_t i = 0; i < plan.runs.size(); ++i)
        EXPECT_EQ(again.runs[i].run_id, plan.runs[i].run_id);
    ExperimentSpec other = example();
    other.seed = 8;
    const Plan reseeded = make_plan(other);
    std::size_t same_position = 0;
    for (std::size_t i = 0; i < plan.runs.size(); ++i)
        same_position += reseeded.runs[i].run_id == plan.runs[i].run_id;
    EXPECT_LT(same_position, 40u);
}

TEST(Plan, ShuffledRoundsHoldEveryVariantOnce) {
    const Plan plan = make_plan(example());
    for (unsigned r = 0; r < 10; ++r) {
        std::set<std::size_t> variants;
        for (std::size_t i = r * 12; i < (r + 1) * 12; ++i) {
            EXPECT_EQ(plan.runs[i].repetition, r + 1);
            variants.insert(plan.runs[i].variant);
        }
        EXPECT_EQ(variants.size(), 12u);
    }
    // Not the declaration order in every round (that would be interleaved).
    std::size_t in_declaration_order = 0;
    for (unsigned r = 0; r < 10; ++r) {
        bool sorted = true;
        for (std::size_t i = r * 12 + 1; i < (r + 1) * 12; ++i)
            sorted &= plan.runs[i - 1].variant < plan.runs[i].variant;
        in_declaration_order += sorted;
    }
    EXPECT_EQ(in_declaration_order, 0u);
}

TEST(Plan, InterleavedIsRoundRobin) {
    ExperimentSpec spec = example();
    spec.order = RunOrder::kInterleaved;
    const Plan plan = make_plan(spec);
    for (std::size_t i = 0; i < plan.runs.size(); ++i) {
        EXPECT_EQ(plan.runs[i].variant, i % 12);
        EXPECT_EQ(plan.runs[i].repetition, i / 12 + 1);
    }
    EXPECT_EQ(plan.runs[0].workload, "resnet50-infer");
    EXPECT_EQ(plan.runs[0].environment, "bare");
    EXPECT_EQ(plan.runs[0].gpu_cap_w, 150.0);
    EXPECT_EQ(plan.runs[1].gpu_cap_w, 200.0);
    EXPECT_EQ(plan.runs[3].environment, "docker");
    EXPECT_EQ(plan.runs[6].workload, "burn");
    EXPECT_TRUE(plan.warnings.empty());
}

TEST(Plan, BlockedKeepsRepetitionsTogetherAndWarns) {
    ExperimentSpec spec = example();
    spec.order = RunOrder::kBlocked;
    const Plan plan = make_plan(spec);
    for (std::size_t i = 0; i < plan.runs.size(); ++i) {
        EXPECT_EQ(plan.runs[i].variant, i / 10);
        EXPECT_EQ(plan.runs[i].repetition, i % 10 + 1);
    }
    ASSERT_EQ(plan.warnings.size(), 1u);
    EXPECT_NE(plan.warnings[0].find("temperature"), std::string::npos);
    EXPECT_NE(plan.warnings[0].find("background load"), std::string::npos);
    EXPECT_NE(plan.warnings[0].find("day"), std::string::npos);
    EXPECT_EQ(plan.warnings[0], blocked_order_warning());
}

TEST(Plan, RunIdsDoNotDependOnOrder) {
    ExperimentSpec blocked = example();
    blocked.order = RunOrder::kBlocked;
    std::set<std::string> a;
    std::set<std::string> b;
    for (const auto& run : make_plan(example()).runs) a.insert(run.run_id);
    for (const auto& run : make_plan(blocked).runs) b.insert(run.run_id);
    EXPECT_EQ(a, b);
}

TEST(Plan, ShardsPartitionThePlanExactly) {
    const Plan whole = make_plan(example());
    for (unsigned n : {1u, 2u, 3u, 7u, 120u, 200u}) {
        std::multiset<std::string> seen;
        std::size_t smallest = whole.total_runs;
        std::size_t largest = 0;
        for (unsigned i = 1; i <= n; ++i) {
            const Plan part = make_plan(example(), Shard{i, n});
            EXPECT_EQ(part.total_runs, whole.total_runs);
            smallest = std::min(smallest, part.runs.size());
            largest = std::max(largest, part.runs.size());
            for (const auto& run : part.runs) {
                // Dealt like cards in the order variant x repetition (docs/experiment.md).
                const std::size_t reps = whole.total_runs / whole.variants;
                EXPECT_EQ((run.variant * reps + run.repetition - 1) % n, i - 1);
                EXPECT_EQ(run.run_id, whole.runs[run.plan_index].run_id);
                seen.insert(run.run_id);
            }
        }
        EXPECT_EQ(seen.size(), whole.total_runs) << n;
        for (const auto& run : whole.runs) EXPECT_EQ(seen.count(run.run_id), 1u) << n;
        EXPECT_LE(largest - smallest, 1u) << n;
    }
}

// Every shard gets every cell (workload x environment x cap) in equal measure, within one run,
// whatever the order: with 4 variants and 2 shards, plan_index % 2 would give each shard only
// half of the cells.
TEST(Plan, ShardsAreBalancedPerCell) {
    for (const RunOrder order : {RunOrder::kInterleaved, RunOrder::kBlocked, RunOrder::kShuffled}) {
        ExperimentSpec spec = example();
        spec.order = order;
        const Plan whole = make_plan(spec);
        for (unsigned n : {2u, 3u, 4u, 5u}) {
            std::map<std::size_t, std::vector<std::size_t>> per_cell;  // variant -> count per shard
            for (unsigned i = 1; i <= n; ++i) {
                for (const auto& run : make_plan(spec, Shard{i, n}).runs) {
                    auto& counts = per_cell[run.variant];
                    counts.resize(n);
                    ++counts[i - 1];
                }
            }
            ASSERT_EQ(per_cell.size(), whole.variants);
            for (auto& [variant, counts] : per_cell) {
                counts.resize(n);
                const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
                EXPECT_LE(*hi - *lo, 1u) << "variant " << variant << ", " << n << " shards";
            }
        }
    }
}

TEST(Plan, ParseShard) {
    const Shard s = parse_shard("2/4");
    EXPECT_EQ(s.index, 2u);
    EXPECT_EQ(s.count, 4u);
    for (const char* bad : {"", "2", "0/4", "5/4", "1/0", "a/4", "2/b", "2/4/1", "-1/4", "1 /4"}) {
        try {
            (void)parse_shard(bad);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
            EXPECT_NE(std::string(e.what()).find("shard"), std::string::npos);
        }
    }
}

TEST(Plan, DefaultSeedComesFromTheName) {
    // Python: int(sha256(b"joulebench-seed\0kvm-vs-bare").hexdigest()[:16], 16)
    EXPECT_EQ(seed_from_name("kvm-vs-bare"), 1439965083159286036ull);
}

}  // namespace
}  // namespace joulebench
