// Test-only helper for execution-order tests: appends "MONOTONIC REALTIME" now, both in
// nanoseconds, as one line to the file named by argv[1]. CLOCK_MONOTONIC is the clock of the fake
// NVML's call log (and std::chrono::steady_clock); the CLOCK_REALTIME reading taken with it lets a
// test place file modification times on that clock. Shell tools cannot read CLOCK_MONOTONIC
// (`date` is CLOCK_REALTIME, /proc/uptime is CLOCK_BOOTTIME at 10 ms).

#include <time.h>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: monotonic_ns FILE\n");
        return 2;
    }
    timespec ts{};
    timespec real{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    clock_gettime(CLOCK_REALTIME, &real);
    std::FILE* out = std::fopen(argv[1], "a");
    if (out == nullptr) {
        std::perror(argv[1]);
        return 1;
    }
    std::fprintf(out, "%lld %lld\n", static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec,
                 static_cast<long long>(real.tv_sec) * 1000000000LL + real.tv_nsec);
    return std::fclose(out) == 0 ? 0 : 1;
}
