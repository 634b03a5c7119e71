#include "live/metrics_server.hpp"

#include <fmt/format.h>
#include <time.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <thread>

#include "joulebench/error.hpp"
#include "live/prometheus_text.hpp"

namespace joulebench::live {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t kMaxConnections = 64;
constexpr auto kIdleTimeout = std::chrono::seconds(30);

double thread_cpu_s() {
    timespec ts{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0.0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr const char* kIndex =
    "<html><head><title>joulebench</title></head><body><h1>joulebench</h1>"
    "<p><a href=\"/metrics\">/metrics</a></p></body></html>\n";

}  // namespace

struct MetricsServer::Impl {
    LiveState& state;
    std::atomic<std::size_t> connections{0};  // before ioc: sessions left in it count down
    net::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    tcp::endpoint bound;
    std::thread thread;

    explicit Impl(LiveState& s) : state(s) {}

    http::response<http::string_body> answer(const http::request<http::string_body>& req) {
        http::response<http::string_body> res;
        res.version(req.version());
        res.keep_alive(req.keep_alive());
        res.set(http::field::server, "joulebench");
        const bool head = req.method() == http::verb::head;
        if (req.method() != http::verb::get && !head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.set(http::field::content_type, "text/plain");
            res.body() = "only GET and HEAD: this endpoint only reads\n";
        } else {
            const std::string_view target(req.target().data(), req.target().size());
            const std::string_view path = target.substr(0, target.find('?'));
            if (path == "/metrics") {
                res.result(http::status::ok);
                res.set(http::field::content_type, kPrometheusContentType);
                res.body() = prometheus_text(state.snapshot(), read_process_now());
            } else if (path == "/") {
                res.result(http::status::ok);
                res.set(http::field::content_type, "text/html; charset=utf-8");
                res.body() = kIndex;
            } else {
                res.result(http::status::not_found);
                res.set(http::field::content_type, "text/plain");
                res.body() = "not found: the metrics are at /metrics\n";
            }
        }
        res.prepare_payload();  // Content-Length of the body, also for HEAD
        if (head) res.body().clear();
        return res;
    }

    void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, MetricsServer::Impl& server) : m_stream(std::move(socket)), m_server(server) {
        ++m_server.connections;
    }
    ~Session() { --m_server.connections; }

    void read() {
        m_parser.emplace();
        m_parser->body_limit(4096);
        m_parser->header_limit(8192);
        m_stream.expires_after(kIdleTimeout);
        http::async_read(m_stream, m_buffer, *m_parser,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

private:
    void on_read(beast::error_code ec) {
        if (ec) return close();
        m_response = m_server.answer(m_parser->get());
        // Everything this thread did so far (accepting, reading, writing, rendering).
        m_server.state.served(thread_cpu_s());
        http::async_write(m_stream, m_response,
                          [self = shared_from_this()](beast::error_code wec, std::size_t) { self->on_write(wec); });
    }

    void on_write(beast::error_code ec) {
        if (ec || !m_response.keep_alive()) return close();
        read();
    }

    void close() {
        beast::error_code ignored;
        m_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        m_stream.socket().close(ignored);
    }

    beast::tcp_stream m_stream;
    MetricsServer::Impl& m_server;
    beast::flat_buffer m_buffer;
    std::optional<http::request_parser<http::string_body>> m_parser;
    http::response<http::string_body> m_response;
};

bool loopback(const net::ip::address& a) {
    if (a.is_loopback()) return true;
    // ::ffff:127.x.y.z
    return a.is_v6() && a.to_v6().is_v4_mapped() &&
           net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
}

}  // namespace

void MetricsServer::Impl::accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;  // closed: stopping
        if (!ec) {
            if (connections.load() >= kMaxConnections) {
                beast::error_code ignored;
                socket.close(ignored);
            } else {
                std::make_shared<Session>(std::move(socket), *this)->read();
            }
        }
        accept();
    });
}

ListenAddress parse_listen_address(const std::string& text) {
    const auto bad = [&](const std::string& why) {
        return Error(ErrorCategory::kInvalidArgument, fmt::format("listen address '{}': {}", text, why),
                     "write HOST:PORT, e.g. 127.0.0.1:9464, localhost:9464 or [::1]:9464");
    };
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw bad("no port");
    std::string host = text.substr(0, colon);
    const std::string port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        throw bad("an IPv6 address goes in brackets");
    }
    if (host.empty()) throw bad("no host (127.0.0.1 for this machine only)");
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
        throw bad(fmt::format("port '{}' is not a number from 0 to 65535", port_text));
    }
    return ListenAddress{host, static_cast<unsigned short>(port)};
}

MetricsServer::MetricsServer(LiveState& state, const ListenAddress& address, bool allow_public)
    : m_impl(std::make_unique<Impl>(state)) {
    const std::string where = fmt::format("{}:{}", address.host, address.port);
    beast::error_code ec;
    tcp::resolver resolver(m_impl->ioc);
    const auto results = resolver.resolve(address.host, std::to_string(address.port),
                                          tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("metrics: listen on {}: the host does not resolve: {}", where, ec.message()));
    }
    const tcp::endpoint endpoint = results.begin()->endpoint();
    if (!allow_public && !loopback(endpoint.address())) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("metrics: listen on {}: {} is not a loopback address, and anyone who "
                                "reaches it could read the metrics",
                                where, endpoint.address().to_string()),
                    "add --metrics-public to serve beyond this machine (the endpoint only reads), or "
                    "listen on 127.0.0.1");
    }
    auto& acc = m_impl->acceptor;
    const auto fail = [&](const char* what) {
        return Error(ec == net::error::access_denied ? ErrorCategory::kNoPermission : ErrorCategory::kIo,
                     fmt::format("metrics: listen on {}: {}: {}", where, what, ec.message()),
                     ec == net::error::address_in_use ? "another program listens there: choose another port"
                                                      : "");
    };
    acc.open(endpoint.protocol(), ec);
    if (ec) throw fail("open a socket");
    acc.set_option(net::socket_base::reuse_address(true), ec);
    acc.bind(endpoint, ec);
    if (ec) throw fail("bind");
    acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw fail("listen");
    m_impl->bound = acc.local_endpoint(ec);
    m_impl->accept();
    m_impl->thread = std::thread([impl = m_impl.get()] {
        try {
            impl->ioc.run();
        } catch (const std::exception&) {
            // A handler failed (bad_alloc): the endpoint stops answering; the measurement goes on.
        }
    });
}

MetricsServer::~MetricsServer() {
    net::post(m_impl->ioc, [impl = m_impl.get()] {
        beast::error_code ignored;
        impl->acceptor.close(ignored);
        impl->ioc.stop();
    });
    if (m_impl->thread.joinable()) m_impl->thread.join();
}

unsigned short MetricsServer::port() const { return m_impl->bound.port(); }

std::string MetricsServer::url() const {
    const auto a = m_impl->bound.address();
    return a.is_v6() ? fmt::format("http://[{}]:{}/metrics", a.to_string(), port())
                     : fmt::format("http://{}:{}/metrics", a.to_string(), port());
}

}  // namespace joulebench::live
