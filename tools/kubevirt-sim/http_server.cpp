#include "tools/kubevirt-sim/http_server.h"

#include <array>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kubec2::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

struct Listener : std::enable_shared_from_this<Listener> {
  Listener(net::io_context& ioc, HttpHandler h) : acceptor(ioc), handler(std::move(h)) {}
  tcp::acceptor acceptor;
  HttpHandler handler;

  void accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted || !self->acceptor.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(s), self)->run();
      self->accept();
    });
  }

  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, std::shared_ptr<Listener> l)
        : stream(std::move(s)), owner(std::move(l)) {}
    beast::tcp_stream stream;
    std::shared_ptr<Listener> owner;  // keeps the handler alive
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;

    void run() {
      stream.expires_after(std::chrono::seconds(10));
      http::async_read(
          stream, buffer, req,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
    }
    void onRead(beast::error_code ec) {
      if (ec) return;
      HttpRequest r{std::string(req.method_string()), std::string(req.target()), req.body()};
      HttpResponse out;
      try {
        out = owner->handler(r);
      } catch (const std::exception& e) {
        out = HttpResponse::error(500, e.what());
      }
      if (out.noAnswer) {
        stream.expires_after(kHangLimit);
        holdOpen();
        return;
      }
      res.version(req.version());
      res.keep_alive(false);
      res.result(static_cast<unsigned>(out.status));
      res.set(http::field::content_type, out.contentType);
      res.set(http::field::server, "kubec2-kubevirt-sim");
      res.body() = std::move(out.body);
      res.prepare_payload();
      if (req.method() == http::verb::head) res.body().clear();
      http::async_write(stream, res, [self = shared_from_this()](beast::error_code, std::size_t) {
        beast::error_code ignored;
        self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      });
    }
    // No answer: reads (and drops) whatever the client sends until it closes
    // the connection or kHangLimit passes; the session, and the socket, end then.
    void holdOpen() {
      stream.async_read_some(net::buffer(drain),
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (!ec) self->holdOpen();
                             });
    }
    std::array<char, 512> drain{};
  };
};

}  // namespace

HttpResponse vmiAnswer(const HttpRequest& r, const std::string& healthPath, bool failHealth,
                       bool hangHealth, const std::string& banner) {
  if (hangHealth) return HttpResponse::none();
  const std::string path = r.target.substr(0, r.target.find('?'));
  if (path == healthPath) {
    if (failHealth) return {503, "text/plain; charset=utf-8", "unhealthy\n"};
    return {200, "text/plain; charset=utf-8", "ok"};
  }
  return {200, "text/plain; charset=utf-8", banner};
}

struct HttpServers::Impl {
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
  std::thread thread;
  mutable std::mutex mu;
  std::uint64_t nextId = 1;
  std::map<std::uint64_t, std::shared_ptr<Listener>> listeners;  // guarded by mu
};

HttpServers::HttpServers() : impl_(std::make_unique<Impl>()) {}

HttpServers::~HttpServers() {
  stop();
}

HttpServers::Bound HttpServers::listen(const std::string& host, int port, HttpHandler handler) {
  auto l = std::make_shared<Listener>(impl_->ioc, std::move(handler));
  beast::error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  if (ec) throw BindError("bad address \"" + host + "\": " + ec.message(), false);
  const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  const std::string where = host + ":" + std::to_string(port);
  l->acceptor.open(ep.protocol(), ec);
  if (!ec) l->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) l->acceptor.bind(ep, ec);
  if (!ec) l->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw BindError("listening on " + where + ": " + ec.message(),
                    ec == net::error::address_in_use);
  }
  Bound b;
  b.port = l->acceptor.local_endpoint().port();
  {
    std::lock_guard g(impl_->mu);
    b.id = impl_->nextId++;
    impl_->listeners.emplace(b.id, l);
  }
  net::post(impl_->ioc, [l] { l->accept(); });
  return b;
}

void HttpServers::close(std::uint64_t id) {
  std::shared_ptr<Listener> l;
  {
    std::lock_guard g(impl_->mu);
    auto it = impl_->listeners.find(id);
    if (it == impl_->listeners.end()) return;
    l = std::move(it->second);
    impl_->listeners.erase(it);
  }
  // On the io thread, where the accept loop runs, and waited for, so that
  // the port is free when close() returns.
  auto doClose = [l] {
    beast::error_code ignored;
    l->acceptor.close(ignored);
  };
  if (!impl_->thread.joinable() || impl_->ioc.stopped() ||
      impl_->thread.get_id() == std::this_thread::get_id()) {
    doClose();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  net::post(impl_->ioc, [doClose, done] {
    doClose();
    done->set_value();
  });
  // The io thread may be stopping: do not wait forever.
  (void)fut.wait_for(std::chrono::seconds(5));
}

std::size_t HttpServers::listeners() const {
  std::lock_guard g(impl_->mu);
  return impl_->listeners.size();
}

void HttpServers::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void HttpServers::stop() {
  impl_->guard.reset();
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard g(impl_->mu);
  for (auto& [id, l] : impl_->listeners) {
    beast::error_code ignored;
    l->acceptor.close(ignored);
  }
  impl_->listeners.clear();
}

}  // namespace kubec2::sim
