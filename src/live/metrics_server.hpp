#pragma once
// The `/metrics` endpoint of `--metrics-listen` and `exporter` (docs/live.md): Prometheus text
// rendered from a LiveState snapshot on each scrape. One thread serves every connection
// (asynchronously: a slow or idle client holds up nobody), it only answers GET and HEAD, and it
// listens on loopback unless the caller allows more. Boost.Beast (header-only, in Debian's Boost,
// which joulebench already uses) rather than Debian's cpp-httplib, which is a shared library that
// would pull OpenSSL and Brotli into a binary that is carried to other hosts and VM guests.

#include <memory>
#include <string>

#include "live/live_state.hpp"

namespace joulebench::live {

struct ListenAddress {
    std::string host;  ///< as written: an IP address or a host name ("localhost")
    unsigned short port = 0;  ///< 0: any free port (tests)
};

/// "127.0.0.1:9464", "localhost:9464", "[::1]:9464", "0.0.0.0:9464". Throws Error
/// (kInvalidArgument) naming the problem.
[[nodiscard]] ListenAddress parse_listen_address(const std::string& text);

class MetricsServer {
public:
    /// Resolves and binds now, then serves on its own thread. Throws Error when the address does
    /// not resolve, cannot be bound (in use, no permission), or is not a loopback address and
    /// `allow_public` is false (the hint names --metrics-public).
    MetricsServer(LiveState& state, const ListenAddress& address, bool allow_public);
    /// Stops serving (open connections are closed) and joins the thread.
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// The port bound (the one asked for, or the one chosen for port 0).
    [[nodiscard]] unsigned short port() const;
    /// "http://127.0.0.1:9464/metrics"
    [[nodiscard]] std::string url() const;

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace joulebench::live
