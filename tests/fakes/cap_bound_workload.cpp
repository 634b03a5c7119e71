// joulebench-fake-gpu-load: a simulated cap-bound GPU workload for the fake NVML (docs/nvml.md,
// "A simulated GPU load"). It reads the state file named by $JOULEBENCH_FAKE_NVML_STATE, takes
// the GPU named first in $CUDA_VISIBLE_DEVICES when that is a number (else GPU 0), reads its
// enforced limit c, and "works" for
//     T(c) = t0 * (1 + a * max(0, D/c - 1)^p) * noise
// (tests/fakes/cap_curves.hpp) while the GPU's "demand_mw" is D, so the fake draws min(D, c)
// and its energy counter integrates exactly that. At the end the demand is cleared and the GPU
// draws --idle W (default 0, so what the run's measurement window holds beyond the load, process
// start and exit, adds no energy).
//
// Progress mode (--units N --unit-s S): N units, each re-reading the cap and sleeping
// S * (1 + a * max(0, D/c - 1)^p) * noise, then printing `step i` (i = 1..N, flushed).
//
// Exit status: 0 done, 1 the state file could not be read or written, 2 bad options.

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/cap_curves.hpp"
#include "fakes/fake_nvml_power.hpp"

namespace {

namespace fnv = joulebench::fake_nvml;
using nlohmann::json;

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

struct Options {
    double t0_s = 0.3;
    double demand_w = 300.0;
    double a = 1.0;
    double p = 2.0;
    double noise = 0.0;
    double idle_w = 0.0;
    std::optional<std::uint64_t> seed;
    std::optional<long> units;
    std::optional<double> unit_s;
    bool t0_given = false;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

const char* const kUsage =
    "usage: joulebench-fake-gpu-load [--t0 S] [--demand W] [--a A] [--p P] [--noise REL]\n"
    "                                [--seed N] [--idle W] [--units N --unit-s S]\n";

// A finite number, positive (or, with `zero_ok`, not negative).
double parse_number(const std::string& option, const std::string& text, bool zero_ok) {
    std::size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || !std::isfinite(value)) {
        throw UsageError(option + ": '" + text + "' is not a number");
    }
    if (zero_ok ? value < 0.0 : value <= 0.0) {
        throw UsageError(option + ": " + text + (zero_ok ? " is negative" : " is not positive"));
    }
    return value;
}

std::uint64_t parse_unsigned(const std::string& option, const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
        throw UsageError(option + ": '" + text + "' is not a non-negative integer");
    }
    errno = 0;
    const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE) throw UsageError(option + ": " + text + " is too large");
    return value;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (arg.rfind("--", 0) != 0) throw UsageError(arg + ": unexpected argument");
        if (i + 1 >= argc) throw UsageError(arg + ": needs a value");
        const std::string value = argv[++i];
        if (arg == "--t0") {
            o.t0_s = parse_number(arg, value, true);
            o.t0_given = true;
        } else if (arg == "--demand") {
            o.demand_w = parse_number(arg, value, false);
        } else if (arg == "--a") {
            o.a = parse_number(arg, value, true);
        } else if (arg == "--p") {
            o.p = parse_number(arg, value, false);
        } else if (arg == "--noise") {
            o.noise = parse_number(arg, value, true);
        } else if (arg == "--idle") {
            o.idle_w = parse_number(arg, value, true);
        } else if (arg == "--seed") {
            o.seed = parse_unsigned(arg, value);
        } else if (arg == "--units") {
            o.units = static_cast<long>(parse_unsigned(arg, value));
            if (*o.units < 1 || *o.units > 1000000) throw UsageError("--units: must be 1..1000000");
        } else if (arg == "--unit-s") {
            o.unit_s = parse_number(arg, value, true);
        } else {
            throw UsageError(arg + ": unknown option");
        }
    }
    if (o.units.has_value() != o.unit_s.has_value()) {
        throw UsageError("--units and --unit-s go together");
    }
    if (o.units && o.t0_given) throw UsageError("--t0 and --units exclude each other");
    return o;
}

unsigned gpu_index() {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    if (visible == nullptr) return 0;
    std::string first(visible);
    first = first.substr(0, first.find(','));
    if (first.empty() || first.size() > 4 ||
        first.find_first_not_of("0123456789") != std::string::npos) {
        return 0;  // a UUID or MIG name: the first GPU
    }
    return static_cast<unsigned>(std::stoul(first));
}

std::uint64_t seed_of(const Options& o) {
    if (o.seed) return *o.seed;
    std::uint64_t seed = 0;
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    urandom.read(reinterpret_cast<char*>(&seed), sizeof seed);
    return seed;
}

json& gpu_of(json& doc, unsigned gpu) {
    if (!doc.contains("gpus") || !doc["gpus"].is_array() || gpu >= doc["gpus"].size()) {
        throw std::runtime_error("no GPU " + std::to_string(gpu) + " in the state file");
    }
    return doc["gpus"][gpu];
}

// The enforced limit of the GPU now, W (readers need no lock: writers rename).
double cap_now_w(const std::string& path, unsigned gpu) {
    json doc = fnv::read_state(path);
    return fnv::enforced_limit_mw(gpu_of(doc, gpu)) / 1000.0;
}

// Starts (demand_mw = D) or ends (demand cleared, power_mw = idle) the load, keeping the energy
// accrued so far.
void set_load(const std::string& path, unsigned gpu, const Options& o, bool on) {
    fnv::locked_update(
        path,
        [&](json& doc) {
            json& g = gpu_of(doc, gpu);
            fnv::fold_energy(g, fnv::monotonic_ns(), 0);
            if (on) {
                g["demand_mw"] = std::llround(o.demand_w * 1000.0);
                g["utilization_gpu"] = 100;
            } else {
                g.erase("demand_mw");
                g["utilization_gpu"] = 0;
            }
            g["power_mw"] = std::llround(o.idle_w * 1000.0);
        },
        "gpu-load");
}

void sleep_s(double seconds) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

void work(const std::string& path, unsigned gpu, const Options& o) {
    namespace cc = joulebench::test::cap_curves;
    std::mt19937_64 rng(seed_of(o));
    if (!o.units) {
        const double cap_w = cap_now_w(path, gpu);
        sleep_s(o.t0_s * cc::time_factor(o.demand_w, o.a, o.p, cap_w) *
                cc::noise_factor(o.noise, rng));
        return;
    }
    for (long i = 1; i <= *o.units; ++i) {
        const double cap_w = cap_now_w(path, gpu);
        sleep_s(*o.unit_s * cc::time_factor(o.demand_w, o.a, o.p, cap_w) *
                cc::noise_factor(o.noise, rng));
        std::printf("step %ld\n", i);
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    try {
        options = parse(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "joulebench-fake-gpu-load: %s\n%s", e.what(), kUsage);
        return kExitUsage;
    }
    const char* path = std::getenv("JOULEBENCH_FAKE_NVML_STATE");
    if (path == nullptr || *path == 0) {
        std::fprintf(stderr, "joulebench-fake-gpu-load: JOULEBENCH_FAKE_NVML_STATE is not set\n");
        return kExitFailure;
    }
    const unsigned gpu = gpu_index();
    bool loaded = false;
    try {
        set_load(path, gpu, options, true);
        loaded = true;
        work(path, gpu, options);
        set_load(path, gpu, options, false);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "joulebench-fake-gpu-load: state file %s: %s\n", path, e.what());
        if (loaded) {
            try {
                set_load(path, gpu, options, false);
            } catch (const std::exception&) {
                // already reported the first failure
            }
        }
        return kExitFailure;
    }
    return 0;
}
