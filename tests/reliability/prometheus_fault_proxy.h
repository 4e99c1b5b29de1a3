// A fault proxy between the operator and a real Prometheus, for the
// reliability suite (docs/reliability.md, "Prometheus outages and garbage
// answers"): an HTTP/1.1 server on 127.0.0.1 (plain POSIX sockets, one
// thread per connection: the operator makes one query at a time) that
// forwards each request to Prometheus (libcurl) and answers it, or, on
// command, fails as a Prometheus in trouble does:
//   Down    the listener is closed: connections are refused
//   Hang    the request is read and answered only when the fault ends
//   Http500 HTTP 500 with Prometheus's JSON error body
//   NaN     Prometheus's answer with every sample value "NaN"
//   Empty   a successful answer with no series
//   Stale   the last answer Prometheus gave for the same request before the
//           fault, replayed as it was, timestamps and all (a stuck cache)
// Every answer carries Connection: close, so no kept-alive connection
// outlives a change of fault.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace kube::testing {

class PrometheusFaultProxy {
 public:
  enum class Fault { None, Down, Hang, Http500, NaN, Empty, Stale };
  static std::string_view name(Fault f) {
    switch (f) {
      case Fault::None:
        return "none";
      case Fault::Down:
        return "down";
      case Fault::Hang:
        return "hang";
      case Fault::Http500:
        return "HTTP 500";
      case Fault::NaN:
        return "NaN";
      case Fault::Empty:
        return "empty result";
      case Fault::Stale:
        return "stale samples";
    }
    return "?";
  }

  // Listens on 127.0.0.1:`port` and forwards to `upstream`
  // ("http://127.0.0.1:9090"). Throws std::runtime_error when the port
  // cannot be bound.
  PrometheusFaultProxy(int port, std::string upstream)
      : port_(port), upstream_(std::move(upstream)) {
    listener_ = listenOn(port_);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~PrometheusFaultProxy() {
    stopping_ = true;
    acceptor_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard l(mu_);
      conns.swap(connections_);
    }
    for (auto& t : conns) t.join();
  }
  PrometheusFaultProxy(const PrometheusFaultProxy&) = delete;
  PrometheusFaultProxy& operator=(const PrometheusFaultProxy&) = delete;

  // Starts `f` (None: forwarding again). Down closes the listener within
  // 50 ms; leaving it opens one again on the same port.
  void set(Fault f) { fault_ = f; }
  Fault fault() const { return fault_; }
  // Requests received while `f` was in force.
  int requests(Fault f) const {
    std::lock_guard l(mu_);
    auto it = requests_.find(f);
    return it == requests_.end() ? 0 : it->second;
  }

 private:
  static int listenOn(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
      ::close(fd);
      throw std::runtime_error("the fault proxy cannot listen on port " + std::to_string(port));
    }
    return fd;
  }

  void acceptLoop() {
    while (!stopping_) {
      if (fault_ == Fault::Down) {
        if (listener_ >= 0) ::close(listener_), listener_ = -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (listener_ < 0) {
        try {
          listener_ = listenOn(port_);
        } catch (const std::runtime_error&) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // TIME_WAIT: try again
          continue;
        }
      }
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard l(mu_);
      connections_.emplace_back([this, c] { serve(c); });
    }
    if (listener_ >= 0) ::close(listener_);
  }

  // Reads one request: {method, target, content type, body}; false when
  // the peer went away first.
  struct Request {
    std::string method, target, contentType, body;
  };
  bool read(int c, Request& r) {
    std::string in;
    char buf[8192];
    std::size_t headerEnd = std::string::npos;
    std::size_t length = 0;
    while (true) {
      if (headerEnd == std::string::npos) {
        headerEnd = in.find("\r\n\r\n");
        if (headerEnd != std::string::npos) {
          const std::string head = in.substr(0, headerEnd);
          const auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
          r.method = head.substr(0, sp1);
          r.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
          r.contentType = header(head, "content-type");
          const std::string cl = header(head, "content-length");
          length = cl.empty() ? 0 : std::stoul(cl);
          // libcurl asks before sending a larger body.
          if (header(head, "expect") == "100-continue") {
            constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            ::send(c, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
          }
        }
      }
      if (headerEnd != std::string::npos && in.size() >= headerEnd + 4 + length) {
        r.body = in.substr(headerEnd + 4, length);
        return true;
      }
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        if (stopping_) return false;
        continue;
      }
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  static std::string header(const std::string& head, const std::string& lowerName) {
    std::size_t at = 0;
    while ((at = head.find("\r\n", at)) != std::string::npos) {
      at += 2;
      const auto colon = head.find(':', at);
      const auto end = head.find("\r\n", at);
      if (colon == std::string::npos || (end != std::string::npos && colon > end)) continue;
      std::string n = head.substr(at, colon - at);
      for (auto& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (n != lowerName) continue;
      std::string v =
          head.substr(colon + 1, (end == std::string::npos ? head.size() : end) - colon - 1);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      return v;
    }
    return "";
  }

  // Prometheus's own answer: {status, body}; {0, ""} when it does not answer.
  std::pair<long, std::string> forward(const Request& r) {
    CURL* c = curl_easy_init();
    std::string out;
    auto append = +[](char* p, size_t size, size_t n, void* to) {
      static_cast<std::string*>(to)->append(p, size * n);
      return size * n;
    };
    const std::string url = upstream_ + r.target;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    curl_slist* headers = nullptr;
    if (r.method == "POST") {
      headers = curl_slist_append(headers, ("Content-Type: " + r.contentType).c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return {code, out};
  }

  static void respond(int c, long code, const std::string& body) {
    const std::string reason = code == 200 ? "OK" : code == 500 ? "Internal Server Error" : "Error";
    std::string out =
        "HTTP/1.1 " + std::to_string(code) + " " + reason +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    std::size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  // Every sample value of a vector or matrix answer made "NaN".
  static std::string withNaN(const std::string& body) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("data")) return body;
    for (auto& r : doc["data"]["result"]) {
      if (r.contains("value")) r["value"][1] = "NaN";
      if (r.contains("values"))
        for (auto& v : r["values"]) v[1] = "NaN";
    }
    return doc.dump();
  }

  void serve(int c) {
    Request r;
    if (read(c, r)) {
      const Fault f = fault_;
      const std::string key = r.method + " " + r.target + " " + r.body;
      {
        std::lock_guard l(mu_);
        ++requests_[f];
      }
      switch (f) {
        case Fault::None: {
          const auto [code, body] = forward(r);
          if (code == 200) {
            std::lock_guard l(mu_);
            lastAnswer_[key] = body;
          }
          respond(c, code == 0 ? 502 : code, body);
          break;
        }
        case Fault::Down:  // accepted just before the listener closed: as refused
          break;
        case Fault::Hang:
          while (fault_ == Fault::Hang && !stopping_)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          // A server that catches up answers late (the operator has long
          // given up on it, unless the hang ended within its timeout).
          if (!stopping_) {
            const auto [code, body] = forward(r);
            respond(c, code == 0 ? 502 : code, body);
          }
          break;
        case Fault::Http500:
          respond(
              c, 500,
              R"({"status":"error","errorType":"internal","error":"injected by the fault proxy"})");
          break;
        case Fault::NaN: {
          const auto [code, body] = forward(r);
          respond(c, code == 0 ? 502 : code, withNaN(body));
          break;
        }
        case Fault::Empty:
          respond(c, 200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
          break;
        case Fault::Stale: {
          std::string body;
          {
            std::lock_guard l(mu_);
            auto it = lastAnswer_.find(key);
            if (it != lastAnswer_.end()) body = it->second;
          }
          if (body.empty())
            respond(c, 200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
          else
            respond(c, 200, body);
          break;
        }
      }
    }
    ::close(c);
  }

  const int port_;
  const std::string upstream_;
  int listener_ = -1;  // the acceptor thread's only
  std::atomic<Fault> fault_{Fault::None};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> connections_;
  std::map<Fault, int> requests_;
  std::map<std::string, std::string> lastAnswer_;  // by request, Prometheus's last 200 answer
};

}  // namespace kube::testing
