// A scripted HTTP/1.1 server on loopback for client tests: answers each
// request with the next canned response (the last one repeats), and can
// hang before answering or cut a body short, as a broken server would.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kube::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct Canned {
  int status = 200;
  std::string body = "{}";
  std::string retryAfter{};            // header value, when set
  std::chrono::milliseconds delay{0};  // wait before answering (a hung server)
  bool truncated = false;              // announce the whole body, send half of it, close
};

struct Seen {
  std::string method;
  std::string target;
  std::string authorization;
  std::string body;
};

// Answers each request with the next canned response (the last one repeats).
class ScriptedServer {
 public:
  explicit ScriptedServer(std::deque<Canned> script)
      : script_(std::move(script)), acceptor_(ioc_, tcp::endpoint(tcp::v4(), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() {
    std::lock_guard l(mu_);
    return seen_;
  }

 private:
  void serve() {
    while (!stopping_) {
      tcp::socket sock(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stopping_) return;
      beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        http::read(sock, buf, req, ec);
        if (ec) break;
        Canned c;
        {
          std::lock_guard l(mu_);
          seen_.push_back({std::string(req.method_string()), std::string(req.target()),
                           std::string(req[http::field::authorization]), req.body()});
          c = script_.front();
          if (script_.size() > 1) script_.pop_front();
        }
        if (c.delay.count() > 0) {
          const auto until = std::chrono::steady_clock::now() + c.delay;
          while (!stopping_ && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (c.truncated) {
          const std::string head = "HTTP/1.1 " + std::to_string(c.status) +
                                   " OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(c.body.size()) + "\r\n\r\n" +
                                   c.body.substr(0, c.body.size() / 2);
          boost::asio::write(sock, boost::asio::buffer(head), ec);
          break;  // close mid-body
        }
        http::response<http::string_body> res(static_cast<http::status>(c.status), 11);
        res.body() = c.body;
        if (!c.retryAfter.empty()) res.set(http::field::retry_after, c.retryAfter);
        res.prepare_payload();
        http::write(sock, res, ec);
        if (ec) break;
      }
    }
  }

  std::mutex mu_;
  std::deque<Canned> script_;
  std::vector<Seen> seen_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kube::testing
