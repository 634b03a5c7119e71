#pragma once
// The protocol between the container environment (its end: hold_channel.cpp, on the host) and
// joulebench-hold (hold/joulebench_hold.cpp, the container's entrypoint): one header of constants
// for both halves, so a word changed on one side cannot silently mismatch the other. Plain
// constants only: joulebench-hold is a static, library-free program and includes nothing else of
// joulebench. The sequence is documented in docs/containers.md:
//
//   hold -> host   kReady                         connected, waiting
//   host -> hold   kGo + 2 descriptors            the workload's stdout and stderr (SCM_RIGHTS)
//   hold -> host   kExitFormat (STATUS LEFT ERR)  the workload ended (STATUS as from waitpid)
//   host -> hold   kRelease                       the container may exit now

namespace joulebench::hold {

/// Messages over the unix seqpacket socket, one word (or line) per packet.
inline constexpr const char kReady[] = "ready";
inline constexpr const char kGo[] = "go";
inline constexpr int kGoDescriptors = 2;  ///< stdout, stderr
/// printf/scanf format of the end report: wait status, processes left (0/1), exec errno.
inline constexpr const char kExitFormat[] = "exit %d %d %d";
inline constexpr const char kRelease[] = "release";
/// Longest message either side sends (the end report is the longest), with its terminator.
inline constexpr int kMaxMessage = 96;

/// Exit status of joulebench-hold, and of a run the host could not start, for errors of
/// joulebench's own before the workload runs (as `docker run` uses 125 for its own).
inline constexpr int kExitSetupFailed = 125;

/// Where the helper and the per-run folder (with the socket) appear inside the container.
inline constexpr const char kHoldInContainer[] = "/.joulebench-hold";
inline constexpr const char kRunDirInContainer[] = "/.joulebench";
inline constexpr const char kSocketName[] = "ctl";

}  // namespace joulebench::hold
