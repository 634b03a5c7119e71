#pragma once
// Looking at other processes from a test: whether one has ended, and the power cap guardian a
// joulebench process started (tests of caps and the guardian). Defined in test_support.cpp.

#include <sys/types.h>

namespace joulebench::test {

/// True once `pid` has ended (gone, or a zombie nobody reaped yet).
bool process_ended(pid_t pid);

/// The power cap guardian (`joulebench caps guardian --parent-pid PID`) started by process `pid`,
/// or -1.
pid_t guardian_of(pid_t pid);

}  // namespace joulebench::test
