#include "runtime/health_server.h"

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "runtime/log.h"

namespace kube {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

BindAddress parseBindAddress(const std::string& value, const std::string& flag) {
  auto bad = [&](const std::string& why) {
    return std::runtime_error(flag + "=\"" + value + "\": " + why +
                              " (expected host:port, :port or [ipv6]:port)");
  };
  BindAddress out;
  std::string portText;
  if (!value.empty() && value.front() == '[') {
    const auto close = value.find("]:");
    if (close == std::string::npos) throw bad("missing \"]:port\"");
    out.host = value.substr(1, close - 1);
    portText = value.substr(close + 2);
    if (out.host.empty()) throw bad("empty IPv6 address");
  } else {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos) throw bad("missing port");
    out.host = value.substr(0, colon);
    portText = value.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) throw bad("IPv6 addresses need brackets");
  }
  if (portText.empty() || portText.size() > 5 ||
      portText.find_first_not_of("0123456789") != std::string::npos) {
    throw bad("port is not a number");
  }
  out.port = std::stoi(portText);
  if (out.port > 65535) throw bad("port out of range");
  return out;
}

struct HealthServer::Impl {
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  int port = 0;

  std::mutex mu;
  std::vector<std::pair<std::string, Check>> healthz, readyz;  // guarded by mu

  // Runs `checks`; returns status and body.
  std::pair<http::status, std::string> evaluate(
      const std::vector<std::pair<std::string, Check>>& checks, const char* what, bool verbose) {
    std::vector<std::pair<std::string, Check>> copy;
    {
      std::lock_guard l(mu);
      copy = checks;
    }
    std::string body;
    bool ok = true;
    for (const auto& [name, check] : copy) {
      std::string reason;
      try {
        reason = check();
      } catch (const std::exception& e) {
        reason = std::string("check threw: ") + e.what();
      }
      if (reason.empty()) {
        if (verbose) body += "[+]" + name + " ok\n";
      } else {
        ok = false;
        body.append("[-]").append(name).append(" failed: ").append(reason).append("\n");
      }
    }
    if (ok) return {http::status::ok, verbose ? body + what + " check passed\n" : "ok"};
    return {http::status::service_unavailable, body + what + " check failed\n"};
  }

  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(false);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const bool verbose = q != std::string::npos && target.find("verbose", q) != std::string::npos;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "method not allowed\n";
    } else if (path == "/healthz" || path == "/livez") {
      auto [status, body] = evaluate(healthz, "healthz", verbose);
      res.result(status);
      res.body() = std::move(body);
    } else if (path == "/readyz") {
      auto [status, body] = evaluate(readyz, "readyz", verbose);
      res.result(status);
      res.body() = std::move(body);
    } else {
      res.result(http::status::not_found);
      res.body() = "not found\n";
    }
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    return res;
  }

  // One connection: read a request, answer, close. Probes send one request
  // each; keep-alive would only hold sockets open.
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, Impl* srv) : stream(std::move(s)), server(srv) {}
    beast::tcp_stream stream;
    Impl* server;  // outlives every session: pending ones die with its io_context
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;

    void run() {
      // A client that connects and says nothing must not hold the socket forever.
      stream.expires_after(std::chrono::seconds(10));
      http::async_read(
          stream, buffer, req,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
    }
    void onRead(beast::error_code ec) {
      if (ec) return;  // closed, timed out or malformed: nothing to answer
      res = server->handle(req);
      http::async_write(stream, res, [self = shared_from_this()](beast::error_code, std::size_t) {
        beast::error_code ignored;
        self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      });
    }
  };

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;  // stopping
      if (!ec) std::make_shared<Session>(std::move(s), this)->run();
      accept();
    });
  }
};

HealthServer::HealthServer(const std::string& bindAddress, const std::string& flag)
    : impl_(std::make_unique<Impl>()) {
  const BindAddress ba = parseBindAddress(bindAddress, flag);
  auto fail = [&](const std::string& why) {
    return std::runtime_error(flag + "=\"" + bindAddress + "\": cannot listen: " + why);
  };
  beast::error_code ec;
  tcp::endpoint ep;
  if (ba.host.empty()) {
    ep = tcp::endpoint(net::ip::address_v4::any(), static_cast<unsigned short>(ba.port));
  } else {
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(ba.host, std::to_string(ba.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) throw fail("cannot resolve \"" + ba.host + "\": " + ec.message());
    ep = results.begin()->endpoint();
  }
  auto& a = impl_->acceptor;
  if (a.open(ep.protocol(), ec); ec) throw fail(ec.message());
  if (a.set_option(net::socket_base::reuse_address(true), ec); ec) throw fail(ec.message());
  if (a.bind(ep, ec); ec) throw fail(ec.message());
  if (a.listen(net::socket_base::max_listen_connections, ec); ec) throw fail(ec.message());
  impl_->port = a.local_endpoint().port();
}

HealthServer::~HealthServer() {
  stop();
}

void HealthServer::addHealthzCheck(std::string name, Check check) {
  std::lock_guard l(impl_->mu);
  impl_->healthz.emplace_back(std::move(name), std::move(check));
}

void HealthServer::addReadyzCheck(std::string name, Check check) {
  std::lock_guard l(impl_->mu);
  impl_->readyz.emplace_back(std::move(name), std::move(check));
}

void HealthServer::start() {
  if (impl_->thread.joinable()) return;
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] {
    try {
      impl->ioc.run();
    } catch (const std::exception& e) {
      log::Logger("health").error("Health probe server stopped", {{"error", e.what()}});
    }
  });
  log::Logger("health").info("Starting health probe server", {{"port", impl_->port}});
}

void HealthServer::stop() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Frees the port now; open sessions close when the io_context is destroyed.
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

int HealthServer::port() const {
  return impl_->port;
}

}  // namespace kube
