// tune::CapSearch (src/tune/search.hpp) on the simulated cap curves of tests/fakes/cap_curves.hpp:
// each trial runs the search in-process against the noise-free model with seeded log-normal
// noise, and the found cap is judged against the model's true optimum. Deterministic: seeds only,
// no clock.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "fakes/cap_curves.hpp"
#include "joulebench/error.hpp"
#include "tune/search.hpp"

namespace joulebench::test::cap_curves {
// Test names and failure messages show the shape's name.
void PrintTo(const Shape& shape, std::ostream* os) {
    *os << shape.name;
}
}  // namespace joulebench::test::cap_curves

namespace joulebench::tune {
namespace {

namespace cc = test::cap_curves;

// Relative sd of a run's time (and energy). 1%, not the 2% of bench/tune_bench.cpp: at 2% a
// run's log-EDP varies by 4%, and the inside shape's caps two steps from the optimum (230 W:
// +1.6%, 270 W: +2.3%) cannot be told from it with a few runs each; there the search finds a cap
// within one step in 80% of trials (a sweep with 3 runs per cap in 75%), see BENCHMARKS.md.
constexpr double kNoise = 0.01;
constexpr int kTrials = 40;
constexpr int kMinSuccesses = 36;        // of kTrials, within one grid step of an optimal cap
constexpr std::size_t kRunLimit = 1000;  // a search that asks for more never ends

struct Trial {
    std::vector<Observation> observations;
    SearchResult result;
};

SearchOptions options_for(Metric metric, std::size_t budget = 0) {
    SearchOptions o;
    o.caps_w = cc::grid_caps();
    o.metric = metric;
    o.budget = budget;
    return o;
}

// The search against the model: run what next() asks until it answers nullopt.
Trial run_trial(const CapSearch& search, const cc::Shape& shape, std::uint64_t seed,
                double noise = kNoise) {
    std::mt19937_64 rng(seed);
    Trial t;
    const auto& caps = search.options().caps_w;
    while (const auto i = search.next(t.observations)) {
        if (t.observations.size() >= kRunLimit) {
            ADD_FAILURE() << "the search did not end after " << kRunLimit << " runs";
            break;
        }
        t.observations.push_back(cc::simulate(shape, caps.at(*i), noise, rng));
    }
    t.result = search.result(t.observations);
    return t;
}

std::string describe(const Trial& t) {
    std::string s = "best " +
                    (t.result.best_cap_w ? std::to_string(*t.result.best_cap_w) : "none") +
                    " W after " + std::to_string(t.observations.size()) + " runs:";
    for (const auto& o : t.observations) s += " " + std::to_string(static_cast<int>(o.cap_w));
    return s;
}

class CapSearchShapes : public ::testing::TestWithParam<cc::Shape> {};

TEST_P(CapSearchShapes, FindsACapWithinOneStepOfTheOptimumInMostTrials) {
    const cc::Shape shape = GetParam();
    const CapSearch search(options_for(Metric::kEdp));
    const auto optimal = cc::optimal_caps(shape, search.options().caps_w, Metric::kEdp);
    ASSERT_FALSE(optimal.empty());
    int successes = 0;
    std::string failures;
    for (int seed = 1; seed <= kTrials; ++seed) {
        const Trial t = run_trial(search, shape, static_cast<std::uint64_t>(seed));
        EXPECT_LE(t.observations.size(), default_budget(search.options().caps_w.size()));
        if (t.result.best_cap_w && cc::within_steps(optimal, cc::index_of(search.options().caps_w,
                                                                          *t.result.best_cap_w))) {
            ++successes;
        } else {
            failures += "\n  seed " + std::to_string(seed) + ": " + describe(t);
        }
    }
    EXPECT_GE(successes, kMinSuccesses) << shape.name << failures;
}

// Budget: never more runs than the budget; budget_spent exactly when the budget cut the search
// short. The same seed gives the same runs, so the run with a generous budget tells whether the
// small one was cut.
TEST_P(CapSearchShapes, NeverExceedsTheBudgetAndSaysWhenItLimited) {
    const cc::Shape shape = GetParam();
    const CapSearch generous(options_for(Metric::kEdp, 500));
    int limited = 0;
    for (const std::size_t budget : {std::size_t{6}, std::size_t{9}, std::size_t{12}}) {
        const CapSearch search(options_for(Metric::kEdp, budget));
        for (int seed = 1; seed <= 10; ++seed) {
            const Trial t = run_trial(search, shape, static_cast<std::uint64_t>(seed));
            const Trial free = run_trial(generous, shape, static_cast<std::uint64_t>(seed));
            EXPECT_LE(t.observations.size(), budget);
            EXPECT_EQ(t.result.runs_used, t.observations.size());
            const bool cut = free.observations.size() > budget;
            EXPECT_EQ(t.result.budget_spent, cut) << "budget " << budget << " seed " << seed;
            if (cut) {
                ++limited;
                EXPECT_EQ(t.observations.size(), budget);
                EXPECT_FALSE(t.result.confident);
            } else {
                EXPECT_EQ(t.result.best_cap_w, free.result.best_cap_w);
            }
        }
    }
    EXPECT_GT(limited, 0) << "no budget limited the search: the test checks nothing";
}

// Resume: next() and result() are functions of the set of observations, whatever their order
// (within a cap or interleaved), so a search restored from a store continues where it stopped.
TEST_P(CapSearchShapes, AnswersTheSameForObservationsInAnyOrder) {
    const cc::Shape shape = GetParam();
    const CapSearch search(options_for(Metric::kEdp));
    std::mt19937_64 shuffle_rng(99);
    for (int seed = 1; seed <= 5; ++seed) {
        const Trial t = run_trial(search, shape, static_cast<std::uint64_t>(seed));
        for (std::size_t k = 0; k <= t.observations.size(); ++k) {
            const std::vector<Observation> prefix(t.observations.begin(),
                                                  t.observations.begin() + static_cast<long>(k));
            std::vector<Observation> shuffled = prefix;
            std::shuffle(shuffled.begin(), shuffled.end(), shuffle_rng);
            std::vector<Observation> reversed(prefix.rbegin(), prefix.rend());
            const auto expected = search.next(prefix);
            EXPECT_EQ(search.next(shuffled), expected) << "seed " << seed << " prefix " << k;
            EXPECT_EQ(search.next(reversed), expected) << "seed " << seed << " prefix " << k;
            EXPECT_EQ(search.result(shuffled).best_cap_w, search.result(prefix).best_cap_w);
        }
    }
}

// Energy within a slowdown budget: the found cap's true slowdown (noise-free model) is within
// the bound up to what the noise can move it. (How often the cap is also near the constrained
// optimum is measured by bench/tune_bench.cpp: on the lowest shape, whose lowest cap is exactly
// at the bound, it is not, see BENCHMARKS.md.)
TEST_P(CapSearchShapes, EnergyWithinSlowdownRespectsTheBoundOnTheTrueCurve) {
    const cc::Shape shape = GetParam();
    SearchOptions o = options_for(Metric::kEnergyWithinSlowdown);
    o.max_slowdown = 0.10;
    const CapSearch search(o);
    const auto& caps = search.options().caps_w;
    const double top_time = cc::point(shape, caps.back()).time_s;
    for (int seed = 1; seed <= kTrials; ++seed) {
        const Trial t = run_trial(search, shape, static_cast<std::uint64_t>(seed));
        ASSERT_TRUE(t.result.best_cap_w.has_value()) << describe(t);
        const double slowdown = cc::point(shape, *t.result.best_cap_w).time_s / top_time - 1.0;
        // The time ratio of two caps measured with 1% noise each (single runs: 1.4%) moves the
        // bound by a few percent at most.
        EXPECT_LE(slowdown, o.max_slowdown + 0.05) << "seed " << seed << ": " << describe(t);
        EXPECT_TRUE(t.result.evaluated.empty() ||
                    std::all_of(t.result.evaluated.begin(), t.result.evaluated.end(),
                                [&](const CapEvaluation& e) {
                                    return e.cap_w != *t.result.best_cap_w || e.allowed;
                                }))
            << "the best cap is not allowed by its own measurements";
    }
}

INSTANTIATE_TEST_SUITE_P(Curves, CapSearchShapes, ::testing::ValuesIn(cc::kShapes),
                         [](const auto& shape_info) { return std::string(shape_info.param.name); });

// The model itself, so the shapes are what the tests and benchmarks claim.
TEST(CapCurves, OptimaOfTheThreeShapes) {
    const auto caps = cc::grid_caps();
    ASSERT_EQ(caps.size(), 21U);
    EXPECT_EQ(cc::optimal_caps(cc::kInside, caps, Metric::kEdp), std::vector<std::size_t>{15});
    EXPECT_EQ(cc::optimal_caps(cc::kLowest, caps, Metric::kEdp), std::vector<std::size_t>{0});
    EXPECT_EQ(cc::optimal_caps(cc::kPlateau, caps, Metric::kEdp),
              (std::vector<std::size_t>{15, 16, 17, 18, 19, 20}));  // 250..300 W: exact ties
    EXPECT_TRUE(cc::within_steps({15}, 14));
    EXPECT_FALSE(cc::within_steps({15}, 13));
}

// A search that ended names a cap. Disabled: fails today. The quadratic fit near the best cap can
// put its vertex on a cap that was never run (inside, 2% noise, seed 23: runs at 230 and 250 W,
// vertex at 240 W); result() then finds no measurements there and names no cap at all (8 of 500
// trials on inside in bench/tune_bench.cpp). Enable once search.cpp picks a measured cap.
TEST(CapSearchRegression, AFinishedSearchAlwaysNamesACap) {
    const CapSearch search(options_for(Metric::kEdp));
    for (int seed = 1; seed <= 100; ++seed) {
        const Trial t = run_trial(search, cc::kInside, static_cast<std::uint64_t>(seed), 0.02);
        EXPECT_TRUE(t.result.best_cap_w.has_value()) << "seed " << seed << ": " << describe(t);
    }
}

TEST(CapSearchOptions, BadOptionsThrowInvalidArgument) {
    const auto expect_invalid = [](SearchOptions o, const char* what) {
        try {
            const CapSearch search(std::move(o));
            ADD_FAILURE() << what << ": accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument) << what;
        }
    };
    SearchOptions o = options_for(Metric::kEdp);
    o.caps_w = {100.0, 300.0, 200.0};
    expect_invalid(o, "unsorted grid");
    o.caps_w = {100.0, 200.0, 200.0};
    expect_invalid(o, "repeated cap");
    o.caps_w.clear();
    expect_invalid(o, "empty grid");
    o = options_for(Metric::kEdp);
    o.confidence = 1.0;
    expect_invalid(o, "confidence 1.0");
    o = options_for(Metric::kEnergyWithinSlowdown);
    o.max_slowdown = -0.01;
    expect_invalid(o, "max_slowdown < 0");
}

// A run disturbed by something else (its energy 20 times too high, as once seen under a loaded
// CI machine) must not decide the search: among 3 or more runs of a cap it is left out of the
// comparisons (and said so), and the lowest-cap optimum is still found.
TEST(CapSearchRegression, AGrossOutlierRunDoesNotDecideTheSearch) {
    const CapSearch search(options_for(Metric::kEdp));
    const auto& caps = search.options().caps_w;
    int found = 0;
    int noted = 0;
    for (int seed = 1; seed <= 20; ++seed) {
        std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
        std::vector<Observation> obs;
        bool disturbed = false;
        while (const auto i = search.next(obs)) {
            ASSERT_LT(obs.size(), kRunLimit);
            Observation o = cc::simulate(cc::kLowest, caps.at(*i), 0.01, rng);
            // The first run at the optimum's neighbour, once the search has come down to it.
            if (!disturbed && *i == 1) {
                o.energy_j *= 20.0;
                disturbed = true;
            }
            obs.push_back(o);
        }
        const SearchResult r = search.result(obs);
        ASSERT_TRUE(r.best_cap_w);
        found += cc::within_steps({0}, cc::index_of(caps, *r.best_cap_w)) ? 1 : 0;
        for (const auto& note : r.notes) noted += note.find("gross outliers") != std::string::npos ? 1 : 0;
        std::size_t runs = 0;
        for (const auto& e : r.evaluated) runs += e.runs;
        EXPECT_EQ(runs, obs.size()) << "an outlier must still count as a run";
    }
    EXPECT_GE(found, 19);
    EXPECT_GE(noted, 1) << "no search ran the disturbed cap three times";
}

}  // namespace
}  // namespace joulebench::tune
