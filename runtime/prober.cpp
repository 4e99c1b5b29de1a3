#include "runtime/prober.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <curl/curl.h>

#include "runtime/log.h"

namespace kube {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// A body is read only so far: the status is all a health check looks at, and
// a target must not make the prober buffer or wait for a large page.
constexpr std::size_t kBodyCap = 4096;

bool isIpv6Literal(const std::string& host) {
  in6_addr a6{};
  return inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

void validate(const ProbeTarget& t) {
  in_addr a4{};
  if (inet_pton(AF_INET, t.host.c_str(), &a4) != 1 && !isIpv6Literal(t.host))
    throw std::invalid_argument("probe target: host \"" + t.host +
                                "\" is not an IPv4 or IPv6 address literal");
  if (t.port < 1 || t.port > 65535)
    throw std::invalid_argument("probe target: port " + std::to_string(t.port) +
                                " is out of range 1..65535");
  if (t.interval <= milliseconds::zero())
    throw std::invalid_argument("probe target: interval must be > 0");
  if (t.timeout <= milliseconds::zero() || t.timeout >= t.interval)
    throw std::invalid_argument("probe target: timeout " + std::to_string(t.timeout.count()) +
                                " ms must be > 0 and < the interval (" +
                                std::to_string(t.interval.count()) + " ms)");
  if (t.kind != ProbeTarget::Kind::Tcp) {
    if (t.path.empty() || t.path[0] != '/')
      throw std::invalid_argument("probe target: path \"" + t.path + "\" must start with /");
    for (char ch : t.path)
      if (const auto c = static_cast<unsigned char>(ch); c <= 0x20 || c == 0x7f)
        throw std::invalid_argument("probe target: path \"" + t.path +
                                    "\" holds a space or control character");
  }
}

std::string urlOf(const ProbeTarget& t) {
  const bool v6 = isIpv6Literal(t.host);
  std::string url = t.kind == ProbeTarget::Kind::Https ? "https://" : "http://";
  url += v6 ? "[" + t.host + "]" : t.host;
  url += ":" + std::to_string(t.port);
  url += t.kind == ProbeTarget::Kind::Tcp ? std::string("/") : t.path;
  return url;
}

}  // namespace

const char* outcomeName(ProbeResult::Outcome o) {
  switch (o) {
    case ProbeResult::Outcome::Answered:
      return "Answered";
    case ProbeResult::Outcome::Connected:
      return "Connected";
    case ProbeResult::Outcome::Timeout:
      return "Timeout";
    case ProbeResult::Outcome::ConnectFailed:
      return "ConnectFailed";
    case ProbeResult::Outcome::Error:
      return "Error";
  }
  return "Error";
}

struct Prober::Impl {
  Sink sink;
  Options opts;

  // Shared with upsert/remove (any thread).
  mutable std::mutex mu;
  std::unordered_map<std::string, ProbeTarget> desired;  // guarded by mu
  std::unordered_set<std::string> dirty;                 // keys changed since the loop looked
  int wakeFd = -1;                                       // the running loop's eventfd, or -1
  std::atomic<bool> running{false};

  // The loop's own state (its thread only).
  struct Check {
    CURL* easy = nullptr;
    std::string key;
    std::uint64_t generation = 0;
    SteadyClock::time_point started{};
    ProbeTarget::Kind kind = ProbeTarget::Kind::Http;
    std::size_t bodyBytes = 0;
    bool capped = false;
    std::string url;
    std::array<char, CURL_ERROR_SIZE> errbuf{};
  };
  struct Entry {
    ProbeTarget target;
    std::uint64_t generation = 0;  // changes with every new target: stale heap items are skipped
    SteadyClock::time_point due{};
    Check* inFlight = nullptr;
  };
  struct Due {
    SteadyClock::time_point at;
    std::uint64_t generation;
    std::string key;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  CURLM* multi = nullptr;
  int epollFd = -1;
  std::unordered_map<std::string, Entry> entries;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> schedule;
  std::vector<std::unique_ptr<Check>> idle;  // easy handles kept for reuse
  std::unordered_map<Check*, std::unique_ptr<Check>> busy;
  std::optional<SteadyClock::time_point> curlDeadline;
  std::uint64_t nextGeneration = 1;
  std::mt19937_64 rng{std::random_device{}()};
  curl_slist* headers = nullptr;

  Impl(Sink s, Options o) : sink(std::move(s)), opts(std::move(o)) {}

  void wake() {
    // Under mu, so that the loop cannot close the fd in between.
    if (wakeFd < 0) return;
    const std::uint64_t one = 1;
    ssize_t n = ::write(wakeFd, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the loop wakes anyway
  }

  // ---- libcurl callbacks -------------------------------------------------------------

  static int onSocket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epollFd, EPOLL_CTL_DEL, s, nullptr);  // may be closed already: ignored
      curl_multi_assign(self->multi, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.data.fd = s;
    ev.events = (what & CURL_POLL_IN ? std::uint32_t{EPOLLIN} : 0u) |
                (what & CURL_POLL_OUT ? std::uint32_t{EPOLLOUT} : 0u);
    if (epoll_ctl(self->epollFd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0) {
      log::error("epoll_ctl failed", {{"prober", self->opts.name}, {"error", strerror(errno)}});
      return -1;  // fails the transfer using it
    }
    if (!socketp) curl_multi_assign(self->multi, s, self);  // marks it registered
    return 0;
  }

  static int onTimer(CURLM*, long ms, void* userp) {
    static_cast<Impl*>(userp)->setCurlDeadline(ms);
    return 0;
  }

  // libcurl rounds the time left down to the millisecond: waking at exactly
  // that could come before its timer expires, and a call then that expires
  // nothing leaves the same earliest timer, which libcurl does not report
  // again. Hence 1 ms more, and asking again after every timeout call
  // (refreshCurlDeadline): a lost deadline would let timeouts wait for the
  // next socket event, and checks run seconds over their timeout.
  void setCurlDeadline(long ms) {
    if (ms < 0)
      curlDeadline.reset();
    else
      curlDeadline = SteadyClock::now() + milliseconds(ms > 0 ? ms + 1 : 0);
  }
  void refreshCurlDeadline() {
    long ms = -1;
    if (curl_multi_timeout(multi, &ms) == CURLM_OK) setCurlDeadline(ms);
  }

  static size_t onBody(char*, size_t size, size_t n, void* userp) {
    auto* c = static_cast<Check*>(userp);
    c->bodyBytes += size * n;
    if (c->bodyBytes > kBodyCap) {
      c->capped = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR), read as Answered
    }
    return size * n;
  }

  // ---- the loop ----------------------------------------------------------------------

  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  }

  SteadyClock::duration nextGap(const ProbeTarget& t) {
    const double j = opts.jitter;
    const double f = j > 0 ? 1.0 + uniform(-j / 2, j / 2) : 1.0;
    return std::max<SteadyClock::duration>(
        duration_cast<SteadyClock::duration>(
            std::chrono::duration<double, std::milli>(static_cast<double>(t.interval.count()) * f)),
        SteadyClock::duration(1));
  }

  void abandon(Entry& e) {
    if (!e.inFlight) return;
    release(e.inFlight);
    e.inFlight = nullptr;
  }

  // Back to the idle pool; removing a transfer still running closes its connection.
  void release(Check* c) {
    curl_multi_remove_handle(multi, c->easy);
    auto it = busy.find(c);
    idle.push_back(std::move(it->second));
    busy.erase(it);
  }

  void applyChanges(SteadyClock::time_point now) {
    std::vector<std::pair<std::string, std::optional<ProbeTarget>>> changes;
    {
      std::lock_guard g(mu);
      changes.reserve(dirty.size());
      for (const auto& key : dirty) {
        auto it = desired.find(key);
        changes.emplace_back(
            key, it == desired.end() ? std::nullopt : std::optional<ProbeTarget>(it->second));
      }
      dirty.clear();
    }
    for (auto& [key, target] : changes) {
      auto it = entries.find(key);
      if (!target) {
        if (it != entries.end()) {
          abandon(it->second);
          entries.erase(it);
        }
        continue;
      }
      if (it != entries.end() && it->second.target == *target) continue;
      Entry& e = it != entries.end() ? it->second : entries[key];
      abandon(e);
      e.target = std::move(*target);
      e.generation = nextGeneration++;
      // The first check after a random part of the interval: targets added
      // together spread over it instead of being checked in one burst.
      e.due = now + duration_cast<SteadyClock::duration>(std::chrono::duration<double, std::milli>(
                        uniform(0, static_cast<double>(e.target.interval.count()))));
      schedule.push({e.due, e.generation, key});
    }
  }

  void startDue(SteadyClock::time_point now) {
    while (!schedule.empty() && schedule.top().at <= now && busy.size() < opts.maxInFlight) {
      Due d = schedule.top();
      schedule.pop();
      auto it = entries.find(d.key);
      if (it == entries.end() || it->second.generation != d.generation || it->second.due != d.at)
        continue;  // removed or replaced since
      Entry& e = it->second;
      // A check still running at its next time skips that slot.
      if (!e.inFlight) startCheck(d.key, e, now);
      // From the due time, not from now: a late start does not shift the
      // schedule; slots already missed are skipped rather than run in a burst.
      SteadyClock::time_point next = d.at + nextGap(e.target);
      while (next <= now) next += nextGap(e.target);
      e.due = next;
      schedule.push({next, e.generation, d.key});
    }
  }

  void startCheck(const std::string& key, Entry& e, SteadyClock::time_point now) {
    std::unique_ptr<Check> c;
    if (!idle.empty()) {
      c = std::move(idle.back());
      idle.pop_back();
      curl_easy_reset(c->easy);  // options only: no connection is kept to reuse anyway
    } else {
      c = std::make_unique<Check>();
      c->easy = curl_easy_init();
      if (!c->easy) {
        deliver(failed(key, now, "curl_easy_init failed"));
        return;
      }
    }
    const ProbeTarget& t = e.target;
    c->key = key;
    c->generation = e.generation;
    c->started = now;
    c->kind = t.kind;
    c->bodyBytes = 0;
    c->capped = false;
    c->url = urlOf(t);
    c->errbuf[0] = '\0';
    CURL* h = c->easy;
    curl_easy_setopt(h, CURLOPT_URL, c->url.c_str());
    curl_easy_setopt(h, CURLOPT_PRIVATE, c.get());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf.data());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(t.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t.timeout.count()));
    // Every check on a new connection, closed after it, as ELB does: a check
    // must find a target that stopped accepting.
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    // Hosts are address literals: nothing to cache, and libcurl walks its
    // whole DNS cache to prune it at the end of every transfer (multi_done),
    // which with one entry per target (10,000) cost more than the checks.
    curl_easy_setopt(h, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    if (t.kind == ProbeTarget::Kind::Tcp) {
      curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(h, CURLOPT_USERAGENT, opts.userAgent.c_str());
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Impl::onBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, c.get());
      if (t.kind == ProbeTarget::Kind::Https) {
        // ELB does not verify target certificates (see prober.h).
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
      }
    }
    if (CURLMcode rc = curl_multi_add_handle(multi, h); rc != CURLM_OK) {
      idle.push_back(std::move(c));
      deliver(failed(key, now, std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc)));
      return;
    }
    e.inFlight = c.get();
    busy.emplace(c.get(), std::move(c));
  }

  static ProbeResult failed(const std::string& key, SteadyClock::time_point started,
                            std::string error) {
    ProbeResult r;
    r.key = key;
    r.outcome = ProbeResult::Outcome::Error;
    r.error = std::move(error);
    r.latency = duration_cast<microseconds>(SteadyClock::now() - started);
    r.at = std::chrono::system_clock::now();
    return r;
  }

  void finishChecks() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Check* c = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &c);
      const CURLcode code = m->data.result;  // m is invalid after remove_handle
      ProbeResult r;
      r.key = c->key;
      r.latency = duration_cast<microseconds>(SteadyClock::now() - c->started);
      r.at = std::chrono::system_clock::now();
      long status = 0;
      curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
      if (code == CURLE_OK && c->kind == ProbeTarget::Kind::Tcp) {
        r.outcome = ProbeResult::Outcome::Connected;
      } else if ((code == CURLE_OK || (code == CURLE_WRITE_ERROR && c->capped)) && status > 0) {
        r.outcome = ProbeResult::Outcome::Answered;
        r.httpStatus = status;
      } else {
        r.outcome = code == CURLE_OPERATION_TIMEDOUT ? ProbeResult::Outcome::Timeout
                    : code == CURLE_COULDNT_CONNECT  ? ProbeResult::Outcome::ConnectFailed
                                                     : ProbeResult::Outcome::Error;
        r.error = c->errbuf[0] ? std::string(c->errbuf.data()) : curl_easy_strerror(code);
      }
      if (auto it = entries.find(c->key);
          it != entries.end() && it->second.inFlight == c && it->second.generation == c->generation)
        it->second.inFlight = nullptr;
      const std::string key = c->key;
      release(c);
      bool changed = false;  // removed or replaced since: that result is not wanted
      {
        std::lock_guard g(mu);
        changed = dirty.count(key) > 0;
      }
      if (!changed) deliver(r);
    }
  }

  void deliver(const ProbeResult& r) {
    try {
      sink(r);
    } catch (const std::exception& e) {
      log::error("Health check result sink threw",
                 {{"prober", opts.name}, {"target", r.key}, {"error", e.what()}});
    } catch (...) {
      log::error("Health check result sink threw", {{"prober", opts.name}, {"target", r.key}});
    }
  }

  void run(const std::stop_token& stop);
  void teardown();
};

Prober::Prober(Sink sink, Options options) {
  if (!sink) throw std::invalid_argument("Prober: empty sink");
  if (options.maxInFlight == 0) throw std::invalid_argument("Prober: maxInFlight must be > 0");
  if (!(options.jitter >= 0 && options.jitter <= 1))
    throw std::invalid_argument("Prober: jitter must be in [0, 1]");
  impl_ = std::make_unique<Impl>(std::move(sink), std::move(options));
}

Prober::~Prober() = default;

void Prober::upsert(const std::string& key, const ProbeTarget& target) {
  validate(target);
  std::lock_guard g(impl_->mu);
  auto [it, added] = impl_->desired.try_emplace(key, target);
  if (!added) {
    if (it->second == target) return;  // unchanged: keeps its schedule
    it->second = target;
  }
  impl_->dirty.insert(key);
  impl_->wake();
}

void Prober::remove(const std::string& key) {
  std::lock_guard g(impl_->mu);
  if (impl_->desired.erase(key) == 0) return;
  impl_->dirty.insert(key);
  impl_->wake();
}

std::size_t Prober::size() const {
  std::lock_guard g(impl_->mu);
  return impl_->desired.size();
}

std::string Prober::name() const {
  return impl_->opts.name;
}

void Prober::start(std::stop_token stop) {
  if (impl_->running.exchange(true))
    throw std::logic_error("Prober " + name() + ": already running");
  struct Running {
    Impl& impl;
    ~Running() {
      impl.teardown();
      impl.running = false;
    }
  } guard{*impl_};
  impl_->run(stop);
}

void Prober::Impl::run(const std::stop_token& stop) {
  epollFd = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) throw std::runtime_error(std::string("eventfd: ") + strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = efd;
  epoll_ctl(epollFd, EPOLL_CTL_ADD, efd, &ev);
  {
    std::lock_guard g(mu);
    wakeFd = efd;
    // Every target starts afresh: a new run (a new leader) spreads them again.
    for (const auto& [key, t] : desired) dirty.insert(key);
  }
  multi = curl_multi_init();
  if (!multi) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::onSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::onTimer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  headers = curl_slist_append(nullptr, "Connection: close");

  std::stop_callback onStop(stop, [this] {
    std::lock_guard g(mu);
    wake();
  });
  std::array<epoll_event, 256> events{};
  while (!stop.stop_requested()) {
    auto now = SteadyClock::now();
    applyChanges(now);
    startDue(now);

    auto until = SteadyClock::time_point::max();
    if (curlDeadline) until = *curlDeadline;
    if (!schedule.empty() && busy.size() < opts.maxInFlight)
      until = std::min(until, schedule.top().at);
    int waitMs = -1;  // nothing due: until woken
    if (until != SteadyClock::time_point::max()) {
      // Rounded up: waking early would only spin until the deadline.
      const auto left = until - SteadyClock::now();
      waitMs = left <= SteadyClock::duration::zero()
                   ? 0
                   : static_cast<int>(std::min<std::int64_t>(
                         std::chrono::ceil<milliseconds>(left).count(), 60'000));
    }
    const int n = epoll_wait(epollFd, events.data(), static_cast<int>(events.size()), waitMs);
    if (n < 0 && errno != EINTR)
      throw std::runtime_error(std::string("epoll_wait: ") + strerror(errno));
    int transfers = 0;  // still running: not needed, the messages say what ended
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const auto got = events[static_cast<std::size_t>(i)].events;
      if (fd == efd) {
        std::uint64_t count = 0;
        ssize_t r = ::read(efd, &count, sizeof count);
        (void)r;
        continue;
      }
      int flags = 0;
      if (got & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (got & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (got & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi, fd, flags, &transfers);
    }
    if (curlDeadline && SteadyClock::now() >= *curlDeadline) {
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &transfers);
      refreshCurlDeadline();
    }
    finishChecks();
  }
}

void Prober::Impl::teardown() {
  for (auto& [key, e] : entries) e.inFlight = nullptr;
  while (!busy.empty()) release(busy.begin()->first);
  entries.clear();
  schedule = {};
  if (multi) curl_multi_cleanup(multi);
  multi = nullptr;
  for (auto& c : idle) curl_easy_cleanup(c->easy);
  idle.clear();
  curl_slist_free_all(headers);
  headers = nullptr;
  curlDeadline.reset();
  {
    std::lock_guard g(mu);
    if (wakeFd >= 0) ::close(wakeFd);
    wakeFd = -1;
  }
  if (epollFd >= 0) ::close(epollFd);
  epollFd = -1;
}

}  // namespace kube
