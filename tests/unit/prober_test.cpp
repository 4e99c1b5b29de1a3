// The health-check prober (runtime/prober.h) against real listeners on
// 127.0.0.1 ephemeral ports: the KubeVirt simulator's HTTP servers (200, 503,
// no answer), a closed port and a raw TCP listener. Waits are on results with
// deadlines; the only fixed waits look for the absence of results. Bounds are
// generous so that a loaded 2-core machine cannot fail them.
#include "runtime/prober.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tools/kubevirt-sim/http_server.h"

namespace kube {
namespace {

using namespace std::chrono_literals;
using Outcome = ProbeResult::Outcome;
using SteadyClock = std::chrono::steady_clock;

// Results by key, as the sink saw them, with the time each arrived.
class Results {
 public:
  Prober::Sink sink() {
    return [this](const ProbeResult& r) {
      std::lock_guard g(mu_);
      seen_[r.key].push_back({r, SteadyClock::now()});
      cv_.notify_all();
    };
  }
  // The key's first n results, or fewer when they did not come within `within`.
  std::vector<ProbeResult> waitFor(const std::string& key, std::size_t n,
                                   std::chrono::milliseconds within = 15s) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, within, [&] { return seen_[key].size() >= n; });
    std::vector<ProbeResult> out;
    for (const auto& s : seen_[key]) out.push_back(s.result);
    return out;
  }
  std::size_t count(const std::string& key) {
    std::lock_guard g(mu_);
    return seen_[key].size();
  }
  std::size_t total() {
    std::lock_guard g(mu_);
    std::size_t n = 0;
    for (const auto& [key, v] : seen_) n += v.size();
    return n;
  }
  std::vector<SteadyClock::time_point> arrivals(const std::string& key) {
    std::lock_guard g(mu_);
    std::vector<SteadyClock::time_point> out;
    for (const auto& s : seen_[key]) out.push_back(s.at);
    return out;
  }

 private:
  struct Seen {
    ProbeResult result;
    SteadyClock::time_point at;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<Seen>> seen_;
};

// The prober's loop on its own thread, stopped and joined at scope end.
struct Running {
  explicit Running(Prober& p) : thread([&p](std::stop_token s) { p.start(s); }) {}
  std::jthread thread;
};

// HTTP servers answering fixed statuses, or not at all.
class Servers {
 public:
  Servers() { servers_.start(); }
  int answering(int status, std::string body = "ok") {
    return servers_
        .listen("127.0.0.1", 0,
                [status, body](const kubec2::sim::HttpRequest&) {
                  return kubec2::sim::HttpResponse{status, "text/plain", body};
                })
        .port;
  }
  // Reads each request, counts it in *requests when given, never answers.
  int hanging(std::atomic<int>* requests = nullptr) {
    return servers_
        .listen("127.0.0.1", 0,
                [requests](const kubec2::sim::HttpRequest&) {
                  if (requests) ++*requests;
                  return kubec2::sim::HttpResponse::none();
                })
        .port;
  }
  std::atomic<int> unanswered{0};

 private:
  kubec2::sim::HttpServers servers_;
};

// A port nothing listens on (bound, then closed: connections are refused).
int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A TCP listener that accepts and records, per connection, whether the
// client closed it within 5 s: a TCP check must not leave connections open.
class TcpListener {
 public:
  TcpListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
  }
  ~TcpListener() {
    thread_.request_stop();
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int closedByClient() const { return closed_; }
  int accepted() const { return accepted_; }

 private:
  void serve(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      pollfd q{c, POLLIN, 0};
      char buf[64];
      if (::poll(&q, 1, 5000) == 1 && ::read(c, buf, sizeof buf) == 0) ++closed_;
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::jthread thread_;
};

ProbeTarget http(int port, std::chrono::milliseconds interval = 1000ms,
                 std::chrono::milliseconds timeout = 500ms) {
  ProbeTarget t;
  t.kind = ProbeTarget::Kind::Http;
  t.host = "127.0.0.1";
  t.port = port;
  t.path = "/healthz";
  t.interval = interval;
  t.timeout = timeout;
  return t;
}

ProbeTarget tcp(int port) {
  ProbeTarget t = http(port);
  t.kind = ProbeTarget::Kind::Tcp;
  return t;
}

TEST(Prober, ReportsOutcomesOfHttpAndTcpChecks) {
  Servers servers;
  TcpListener listener;
  Results results;
  Prober prober(results.sink(), {});
  EXPECT_TRUE(prober.needsLeaderElection());
  const int closed = closedPort();
  prober.upsert("ok", http(servers.answering(200)));
  prober.upsert("unhealthy", http(servers.answering(503, "down")));
  prober.upsert("big", http(servers.answering(200, std::string(1 << 20, 'x'))));
  prober.upsert("refused", http(closed));
  prober.upsert("tcp-open", tcp(listener.port()));
  prober.upsert("tcp-refused", tcp(closed));
  EXPECT_EQ(prober.size(), 6u);
  Running running(prober);

  auto first = [&](const std::string& key) {
    auto r = results.waitFor(key, 1);
    return r.empty() ? ProbeResult{} : r.front();
  };
  const ProbeResult ok = first("ok");
  EXPECT_EQ(ok.outcome, Outcome::Answered) << ok.error;
  EXPECT_EQ(ok.httpStatus, 200);
  EXPECT_GT(ok.latency.count(), 0);
  EXPECT_LE(ok.latency, 5s);
  EXPECT_NE(ok.at, std::chrono::system_clock::time_point{});
  const ProbeResult unhealthy = first("unhealthy");
  EXPECT_EQ(unhealthy.outcome, Outcome::Answered) << unhealthy.error;
  EXPECT_EQ(unhealthy.httpStatus, 503);
  // A 1 MiB body is not read to its end: the status is what counts.
  const ProbeResult big = first("big");
  EXPECT_EQ(big.outcome, Outcome::Answered) << big.error;
  EXPECT_EQ(big.httpStatus, 200);
  const ProbeResult refused = first("refused");
  EXPECT_EQ(refused.outcome, Outcome::ConnectFailed) << refused.error;
  EXPECT_FALSE(refused.error.empty());
  const ProbeResult open = first("tcp-open");
  EXPECT_EQ(open.outcome, Outcome::Connected) << open.error;
  EXPECT_EQ(open.httpStatus, 0);
  EXPECT_EQ(first("tcp-refused").outcome, Outcome::ConnectFailed);

  // Each check on its own connection, closed by the prober once it is done.
  ASSERT_GE(results.waitFor("tcp-open", 2).size(), 2u);
  const auto until = SteadyClock::now() + 10s;
  while (listener.closedByClient() < 2 && SteadyClock::now() < until)
    std::this_thread::sleep_for(10ms);
  EXPECT_GE(listener.accepted(), 2);
  EXPECT_GE(listener.closedByClient(), 2);
}

TEST(Prober, TimesOutATargetThatNeverAnswersWithinItsTimeout) {
  Servers servers;
  Results results;
  Prober prober(results.sink(), {});
  const auto timeout = 400ms;
  prober.upsert("hung", http(servers.hanging(), 1000ms, timeout));
  prober.upsert("ok", http(servers.answering(200), 1000ms, timeout));
  Running running(prober);
  const auto hung = results.waitFor("hung", 2);
  ASSERT_GE(hung.size(), 2u);  // more may have come meanwhile
  for (const auto& r : hung) {
    EXPECT_EQ(r.outcome, Outcome::Timeout) << r.error;
    EXPECT_GE(r.latency, timeout);
    EXPECT_LE(r.latency, timeout + 1s);
  }
  // The hung target holds nothing up: the healthy one is answered meanwhile.
  const auto ok = results.waitFor("ok", 2);
  ASSERT_GE(ok.size(), 2u);
  EXPECT_EQ(ok[1].httpStatus, 200);
}

TEST(Prober, ChecksEachTargetOncePerInterval) {
  Servers servers;
  Results results;
  Prober prober(results.sink(), {.maxInFlight = 4096, .jitter = 0.1});
  const auto interval = 300ms;
  prober.upsert("t", http(servers.answering(200), interval, 200ms));
  Running running(prober);
  const auto r = results.waitFor("t", 8, 20s);
  ASSERT_GE(r.size(), 8u);
  // 7 gaps, each at least 0.95 x interval between starts; latencies (well
  // under 200 ms each) may move the ends closer by that much at most.
  const auto arrivals = results.arrivals("t");
  EXPECT_GE(arrivals[7] - arrivals[0], 7 * interval * 95 / 100 - 200ms);
}

TEST(Prober, RemoveStopsDeliveries) {
  Servers servers;
  Results results;
  Prober prober(results.sink(), {});
  prober.upsert("gone", http(servers.answering(200), 200ms, 100ms));
  prober.upsert("kept", http(servers.answering(200), 200ms, 100ms));
  Running running(prober);
  ASSERT_GE(results.waitFor("gone", 2).size(), 2u);
  prober.remove("gone");
  EXPECT_EQ(prober.size(), 1u);
  // At most the one the sink may have been handed as remove() ran.
  const std::size_t atRemove = results.count("gone");
  const std::size_t keptBefore = results.count("kept");
  ASSERT_GE(results.waitFor("kept", keptBefore + 5).size(), keptBefore + 5);
  EXPECT_LE(results.count("gone"), atRemove + 1);
  prober.remove("unknown");  // ignored
}

TEST(Prober, SpreadsTheFirstChecksOfTargetsAddedTogether) {
  Servers servers;
  Results results;
  Prober prober(results.sink(), {});
  const int port = servers.answering(200);
  const auto interval = 2000ms;
  for (int i = 0; i < 50; ++i) prober.upsert("t" + std::to_string(i), http(port, interval, 500ms));
  const auto started = SteadyClock::now();
  Running running(prober);
  std::vector<SteadyClock::time_point> firsts;
  for (int i = 0; i < 50; ++i) {
    const std::string key = "t" + std::to_string(i);
    ASSERT_GE(results.waitFor(key, 1).size(), 1u) << key;  // later ones may have come too
    firsts.push_back(results.arrivals(key)[0]);
  }
  std::sort(firsts.begin(), firsts.end());
  // Uniform over [0, 2 s): 50 first checks within 1 s of each other would
  // happen with probability about 50 x 2^-49.
  EXPECT_GE(firsts.back() - firsts.front(), 1000ms);
  // And none waits more than the interval (plus a loaded machine's slack).
  EXPECT_LE(firsts.back() - started, interval + 3s);
}

TEST(Prober, ReplacingATargetChecksTheNewOne) {
  Servers servers;
  Results results;
  Prober prober(results.sink(), {});
  prober.upsert("t", http(servers.answering(200), 200ms, 100ms));
  Running running(prober);
  ASSERT_GE(results.waitFor("t", 1).size(), 1u);
  prober.upsert("t", http(servers.answering(503), 200ms, 100ms));
  EXPECT_EQ(prober.size(), 1u);
  const auto until = SteadyClock::now() + 15s;
  bool sawNew = false;
  while (!sawNew && SteadyClock::now() < until) {
    const auto r = results.waitFor("t", results.count("t") + 1, 1s);
    sawNew = !r.empty() && r.back().httpStatus == 503;
  }
  EXPECT_TRUE(sawNew);
}

TEST(Prober, StopReturnsPromptlyWithChecksInFlight) {
  Servers servers;
  Results results;
  Prober prober(results.sink(), {});
  const int port = servers.hanging(&servers.unanswered);
  for (int i = 0; i < 20; ++i)
    prober.upsert("hung" + std::to_string(i), http(port, 10000ms, 9000ms));
  std::stop_source stop;
  std::thread t([&] { prober.start(stop.get_token()); });
  // A check is in flight once the server has its request.
  const auto until = SteadyClock::now() + 15s;
  while (servers.unanswered == 0 && SteadyClock::now() < until) std::this_thread::sleep_for(5ms);
  ASSERT_GT(servers.unanswered, 0);
  const auto asked = SteadyClock::now();
  stop.request_stop();
  t.join();
  EXPECT_LE(SteadyClock::now() - asked, 2s);  // not the 9 s timeout
  EXPECT_EQ(results.total(), 0u);             // abandoned checks are not reported
  EXPECT_EQ(prober.size(), 20u);              // targets are kept for the next start
}

TEST(Prober, RejectsTargetsAndOptionsOutOfRange) {
  Prober prober([](const ProbeResult&) {}, {});
  auto bad = [&](auto change) {
    ProbeTarget t = http(80);
    change(t);
    EXPECT_THROW(prober.upsert("k", t), std::invalid_argument);
  };
  bad([](ProbeTarget& t) { t.host = "example.com"; });  // no DNS
  bad([](ProbeTarget& t) { t.host = "[::1]"; });        // no brackets
  bad([](ProbeTarget& t) { t.port = 0; });
  bad([](ProbeTarget& t) { t.port = 65536; });
  bad([](ProbeTarget& t) { t.path = "healthz"; });
  bad([](ProbeTarget& t) { t.path = "/a b"; });
  bad([](ProbeTarget& t) { t.interval = 0ms; });
  bad([](ProbeTarget& t) { t.timeout = 0ms; });
  bad([](ProbeTarget& t) { t.timeout = t.interval; });
  EXPECT_EQ(prober.size(), 0u);
  ProbeTarget v6 = http(80);
  v6.host = "::1";
  EXPECT_NO_THROW(prober.upsert("v6", v6));
  ProbeTarget tcpNoPath = tcp(80);
  tcpNoPath.path = "";  // a TCP check has no path
  EXPECT_NO_THROW(prober.upsert("tcp", tcpNoPath));
  EXPECT_THROW(Prober(nullptr, {}), std::invalid_argument);
  EXPECT_THROW(Prober([](const ProbeResult&) {}, {.maxInFlight = 0}), std::invalid_argument);
  EXPECT_THROW(Prober([](const ProbeResult&) {}, {.maxInFlight = 1, .jitter = 1.5}),
               std::invalid_argument);
}

}  // namespace
}  // namespace kube
