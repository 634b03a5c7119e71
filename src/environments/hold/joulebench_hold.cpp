// joulebench-hold: the entrypoint joulebench gives a container, so that "the container is
// started" and "the workload starts" are two moments the host controls (docs/containers.md).
//
//   joulebench-hold SOCKET COMMAND [ARG...]
//
// Bind-mounted read-only into the container and run as its entrypoint (PID 1, or under the
// engine's --init). It connects to SOCKET, a unix seqpacket socket joulebench listens on in a
// per-run host folder that is bind-mounted too, and says "ready". It then waits for "go", which
// carries the workload's stdout and stderr as file descriptors (SCM_RIGHTS) opened by joulebench
// on the host, so output lands in joulebench's files whatever user the container runs as.
// It starts COMMAND (PATH search like execvp; a failed exec exits 127, or 126 when not
// executable, with a message on the workload's stderr), forwards SIGTERM, SIGINT, SIGHUP,
// SIGQUIT, SIGUSR1 and SIGUSR2 to the command's process group, reaps every process re-parented
// to it, and when the command ends, kills what it left (every other process of the container
// when it is PID 1, else the command's process group), reaps them and reports
// "exit STATUS LEFT EXECERRNO" (STATUS as from waitpid). It stays alive, so that the container and
// its cgroup still exist while joulebench reads the container's CPU time, until joulebench says
// "release" or closes the socket, then exits with the command's status (128+N for signal N).
// If joulebench goes away (the socket closes) before that, the command is killed: a crashed
// joulebench does not leave a workload running.
//
// Statically linked, C-style, no libraries: it must run in any image (no shell, no libc there).

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environments/hold_protocol.hpp"

namespace {

using joulebench::hold::kExitSetupFailed;

void say(const char* what, const char* detail) {
    // The container's own stderr (the engine's log), not the workload's file: these are
    // joulebench's problems, found by `docker logs` and reported by joulebench.
    dprintf(2, "joulebench-hold: %s%s%s\n", what, detail[0] != '\0' ? ": " : "", detail);
}

bool send_text(int sock, const char* text) {
    for (;;) {
        const ssize_t n = send(sock, text, strlen(text), MSG_NOSIGNAL);
        if (n >= 0) return true;
        if (errno != EINTR) return false;
    }
}

// Receives one message; fills up to `max_fds` descriptors passed with it. Returns the length,
// 0 at end of stream, -1 on error.
ssize_t receive(int sock, char* buf, size_t size, int* fds, int max_fds, int* nfds) {
    iovec iov{buf, size - 1};
    union {
        cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * 4)];
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    ssize_t n = 0;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    buf[n] = '\0';
    if (nfds != nullptr) *nfds = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; ++i) {
            int fd = -1;
            memcpy(&fd, CMSG_DATA(c) + static_cast<size_t>(i) * sizeof(int), sizeof fd);
            if (nfds != nullptr && *nfds < max_fds) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
            }
        }
    }
    return n;
}

// Kills (SIGKILL) every live child of this process, found in /proc (children of a subreaper
// are not all known to it by pid); returns how many. Without /proc, none.
int kill_other_children() {
    const int self = getpid();
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return 0;
    int killed = 0;
    while (const dirent* e = readdir(proc)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char buf[512];
        const ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = '\0';
        // "pid (comm) state ppid ...": comm may contain spaces, so parse after the last ')'.
        const char* close_paren = strrchr(buf, ')');
        char state = 0;
        int ppid = 0;
        if (close_paren == nullptr || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2)
            continue;
        if (ppid != self || state == 'Z') continue;
        if (kill(atoi(e->d_name), SIGKILL) == 0) ++killed;
    }
    closedir(proc);
    return killed;
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return kExitSetupFailed;
}

// What a step returns when main() goes on (any other value is main()'s exit status).
constexpr int kGoOn = -1;

// Blocks the forwarded signals and SIGCHLD, to be read from the returned signalfd, never
// handled asynchronously; the mask before is kept in `original` for the workload. -1 on error.
int open_signalfd(sigset_t& original) {
    sigset_t handled;
    sigemptyset(&handled);
    const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (const int s : forwarded) sigaddset(&handled, s);
    sigaddset(&handled, SIGCHLD);
    sigprocmask(SIG_BLOCK, &handled, &original);
    const int sigfd = signalfd(-1, &handled, SFD_CLOEXEC);
    if (sigfd < 0) say("signalfd", strerror(errno));
    return sigfd;
}

// Connects to joulebench's socket at `path` and says "ready"; the socket, or -1.
int connect_to_host(const char* path) {
    const int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (sock < 0 || strlen(path) >= sizeof addr.sun_path) {
        say("socket", sock < 0 ? strerror(errno) : "path too long");
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        say("connect to joulebench", strerror(errno));
        return -1;
    }
    if (!send_text(sock, joulebench::hold::kReady)) {
        say("send ready", strerror(errno));
        return -1;
    }
    return sock;
}

// Waits for "go" and the output descriptors it carries (into `fds`); a signal before it ends
// the container without running the workload. kGoOn once "go" came, else the exit status.
int wait_for_go(int sock, int sigfd, int fds[2]) {
    for (;;) {
        pollfd p[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            say("poll", strerror(errno));
            return kExitSetupFailed;
        }
        if ((p[1].revents & POLLIN) != 0) {
            signalfd_siginfo si{};
            if (read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si) &&
                si.ssi_signo != SIGCHLD)
                return 128 + static_cast<int>(si.ssi_signo);
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            char buf[joulebench::hold::kMaxMessage];
            int nfds = 0;
            const ssize_t n =
                receive(sock, buf, sizeof buf, fds, joulebench::hold::kGoDescriptors, &nfds);
            if (n <= 0) {
                say("joulebench closed the connection before the workload started", "");
                return kExitSetupFailed;
            }
            if (strcmp(buf, joulebench::hold::kGo) == 0 && nfds == joulebench::hold::kGoDescriptors)
                return kGoOn;
            say("unexpected message from joulebench", buf);
            return kExitSetupFailed;
        }
    }
}

// Starts `command` in its own process group with the signal mask `original`, stdin from
// /dev/null and stdout/stderr on `fds` (closed here). Returns its pid (-1 when it could not
// fork) and sets `exec_errno` to why exec failed (0 when it did not).
pid_t start_workload(char** command, const int fds[2], const sigset_t& original, int& exec_errno) {
    exec_errno = 0;
    int exec_pipe[2];
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
        say("pipe", strerror(errno));
        return -1;
    }
    const pid_t child = fork();
    if (child < 0) {
        say("fork", strerror(errno));
        return -1;
    }
    if (child == 0) {
        setpgid(0, 0);  // its own group: signals and the final clean-up reach its whole tree
        for (int s = 1; s < NSIG; ++s) signal(s, SIG_DFL);
        sigprocmask(SIG_SETMASK, &original, nullptr);
        const int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0 && null_fd != 0) {
            dup2(null_fd, 0);
            close(null_fd);
        }
        dup2(fds[0], 1);
        dup2(fds[1], 2);
        execvp(command[0], command);
        const int err = errno;
        dprintf(2, "joulebench-hold: exec %s: %s\n", command[0], strerror(err));
        ssize_t ignored = write(exec_pipe[1], &err, sizeof err);
        (void)ignored;
        _exit(err == ENOENT ? 127 : 126);
    }
    setpgid(child, child);  // also here: no signal may reach the group before it exists
    close(fds[0]);
    close(fds[1]);
    close(exec_pipe[1]);
    ssize_t n = 0;
    do {
        n = read(exec_pipe[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof exec_errno)) exec_errno = 0;
    close(exec_pipe[0]);
    return child;
}

// Runs until the workload ends: forwards signals, reaps orphans, follows the host (when its
// side of the socket closes, `host_gone` is set and the workload is killed). Returns the
// workload's wait status.
int follow_workload(pid_t child, int sigfd, int sock, bool& host_gone) {
    int status = 0;
    host_gone = false;
    for (bool running = true; running;) {
        pollfd p[2] = {{sigfd, POLLIN, 0}, {sock, POLLIN, 0}};
        if (poll(p, host_gone ? 1 : 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if ((p[0].revents & POLLIN) != 0) {
            signalfd_siginfo si{};
            if (read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
                if (si.ssi_signo == SIGCHLD) {
                    for (;;) {
                        int st = 0;
                        const pid_t done = waitpid(-1, &st, WNOHANG);
                        if (done <= 0) break;
                        if (done == child) {
                            status = st;
                            running = false;
                        }
                    }
                } else {
                    kill(-child, static_cast<int>(si.ssi_signo));
                }
            }
        }
        if (!host_gone && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            char buf[joulebench::hold::kMaxMessage];
            if (receive(sock, buf, sizeof buf, nullptr, 0, nullptr) <= 0) {
                // joulebench is gone: nothing will read the result, end the workload now.
                host_gone = true;
                kill(-child, SIGKILL);
            }
        }
    }
    return status;
}

// The workload ended: what it left behind does not outlive it. Returns whether anything was
// left, once all of it is reaped.
bool end_leftovers(pid_t child) {
    bool left = false;
    if (kill(-child, SIGKILL) == 0) left = true;
    if (getpid() == 1 && kill(-1, SIGKILL) == 0) left = true;
    // Not PID 1 (--init): a process that left the group (setsid) and was re-parented here (we
    // are a subreaper) is still alive; a blocking wait for it would never end.
    if (kill_other_children() > 0) left = true;
    for (;;) {
        int st = 0;
        const pid_t done = waitpid(-1, &st, 0);
        if (done < 0 && errno == EINTR) continue;
        if (done < 0) break;  // ECHILD: nothing left
    }
    return left;
}

// Holds the container (and its cgroup) until joulebench has read what it needs: until it says
// "release", closes the socket, or a signal comes.
void hold_until_release(int sock, int sigfd) {
    char buf[joulebench::hold::kMaxMessage];
    for (;;) {
        pollfd p[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if ((p[1].revents & POLLIN) != 0) {
            signalfd_siginfo si{};
            if (read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si) &&
                si.ssi_signo != SIGCHLD)
                break;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            if (receive(sock, buf, sizeof buf, nullptr, 0, nullptr) <= 0) break;
            if (strcmp(buf, joulebench::hold::kRelease) == 0) break;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        say("usage", "joulebench-hold SOCKET COMMAND [ARG...]");
        return kExitSetupFailed;
    }
    sigset_t original;
    const int sigfd = open_signalfd(original);
    if (sigfd < 0) return kExitSetupFailed;
    // Under --init or --pid=host this is not PID 1: orphans of the workload still come here.
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    const int sock = connect_to_host(argv[1]);
    if (sock < 0) return kExitSetupFailed;
    int fds[2] = {-1, -1};
    if (const int code = wait_for_go(sock, sigfd, fds); code != kGoOn) return code;

    int exec_errno = 0;
    const pid_t child = start_workload(argv + 2, fds, original, exec_errno);
    if (child < 0) return kExitSetupFailed;
    bool host_gone = false;
    const int status = follow_workload(child, sigfd, sock, host_gone);
    const bool left = end_leftovers(child);
    if (host_gone) return exit_code_of(status);

    char report[joulebench::hold::kMaxMessage];
    snprintf(report, sizeof report, joulebench::hold::kExitFormat, status, left ? 1 : 0,
             exec_errno);
    if (send_text(sock, report)) hold_until_release(sock, sigfd);
    return exit_code_of(status);
}
