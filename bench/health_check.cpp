// bench_health_check: the cost of active health checks (issue 13's goal:
// 10,000 targets on a 5 s interval within one core), with check latency,
// against the KubeVirt simulator's own listener code.
//
//   bench_health_check [--targets 10000] [--interval-ms 5000] [--timeout-ms 2000]
//                      [--seconds 60] [--compare-seconds 45] [--naive-threads 64]
//                      [--small-targets 1000] [--small-seconds 30]
//                      [--port 8080] [--hang-percent 1] [--fail-percent 1]
//   bench_health_check --serve-only [--targets N] [--port P] ...   (servers only, until killed)
//
// A child process (forked before any thread exists) opens one listener per
// target with the simulator's HttpServers and vmiAnswer() on 127.2.x.y:port
// (the simulator's per-VMI listeners, as the KubeVirt simulator serves them),
// hang-percent of them under the hang-health fault and fail-percent under
// fail-health (503). The parent then runs, one after the other:
//   1. kube::Prober (one thread, curl multi) over every target, for --seconds
//      after a warm-up of one interval (the first checks spread over it);
//   2. for comparison, a naive prober doing the same checks: --naive-threads
//      threads each running blocking curl_easy_perform calls off a shared
//      schedule, for --compare-seconds after the same warm-up;
//   3. kube::Prober again on the first --small-targets targets (0: skipped)
//      for --small-seconds: does the cost of a check grow with the targets?
// For each it prints checks/s, checks per target per interval, the parent's
// CPU (utime + stime over wall, getrusage) as % of one core, the server
// child's CPU, latency percentiles (all checks, and answered 200s only) and
// the outcomes. The figures go into docs/benchmarks.md.
#include <curl/curl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"
#include "runtime/http_transport.h"
#include "runtime/prober.h"
#include "tools/kubevirt-sim/http_server.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Setup {
  int targets = 10000;
  int port = 8080;
  milliseconds interval{5000};
  milliseconds timeout{2000};
  int hangPercent = 1;
  int failPercent = 1;
};

// 127.2.0.1 upward, skipping .0 and .255 in the last byte.
std::string addressOf(int i) {
  return "127.2." + std::to_string(i / 254) + "." + std::to_string(i % 254 + 1);
}
// Spread evenly: target i hangs when i % 100 < hangPercent, fails when it is
// in the next failPercent.
bool hangs(const Setup& s, int i) {
  return i % 100 < s.hangPercent;
}
bool fails(const Setup& s, int i) {
  return !hangs(s, i) && i % 100 < s.hangPercent + s.failPercent;
}

void raiseFileLimit() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

// The listeners; returns an error message, or "" once all listen.
std::string openListeners(const Setup& s, kubec2::sim::HttpServers& servers) {
  try {
    for (int i = 0; i < s.targets; ++i) {
      const bool hang = hangs(s, i), fail = fails(s, i);
      servers.listen(addressOf(i), s.port, [hang, fail](const kubec2::sim::HttpRequest& r) {
        return kubec2::sim::vmiAnswer(r, "/healthz", fail, hang, "bench\n");
      });
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  servers.start();
  return "";
}

double cpuSecondsOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  // Fields after the command name (in parentheses, may hold spaces).
  std::istringstream in(line.substr(line.rfind(')') + 2));
  std::string v;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; in >> v; ++field) {
    if (field == 14) utime = std::stoull(v);
    if (field == 15) {
      stime = std::stoull(v);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double selfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// What one run saw in its measured window.
struct Tally {
  std::mutex mu;
  bool measuring = false;
  std::vector<long> latencyAll;  // microseconds
  std::vector<long> latency200;
  std::vector<long> latencyTimeout;
  std::vector<long> startLag;  // naive only: actual start - due
  std::map<std::string, long> outcomes;

  void add(const kube::ProbeResult& r, long lagMicros = -1) {
    std::lock_guard g(mu);
    if (!measuring) return;
    latencyAll.push_back(static_cast<long>(r.latency.count()));
    if (r.outcome == kube::ProbeResult::Outcome::Answered && r.httpStatus == 200)
      latency200.push_back(static_cast<long>(r.latency.count()));
    if (r.outcome == kube::ProbeResult::Outcome::Timeout)
      latencyTimeout.push_back(static_cast<long>(r.latency.count()));
    if (lagMicros >= 0) startLag.push_back(lagMicros);
    std::string o = kube::outcomeName(r.outcome);
    if (r.outcome == kube::ProbeResult::Outcome::Answered) o += " " + std::to_string(r.httpStatus);
    outcomes[o] += 1;
  }
};

struct Figures {
  std::string name;
  double wall = 0, cpu = 0, serverCpu = 0;
  long checks = 0;
  double perTargetPerInterval = 0;
  std::string latencyAll, latency200, lag;
  double p50ok = 0, p99ok = 0;
};

double percentile(std::vector<long>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;  // ms
}

std::string summary(std::vector<long> v) {
  if (v.empty()) return "none";
  char buf[160];
  const double mx = static_cast<double>(*std::max_element(v.begin(), v.end())) / 1000.0;
  std::snprintf(buf, sizeof buf, "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.1f ms",
                percentile(v, 0.5), percentile(v, 0.9), percentile(v, 0.99), mx);
  return buf;
}

// Warm-up (one interval: every first check has come), then the window.
Figures measure(const std::string& name, const Setup& s, int targets, Tally& tally, pid_t server,
                std::chrono::seconds window) {
  std::this_thread::sleep_for(s.interval + milliseconds(500));
  const double cpu0 = selfCpuSeconds(), srv0 = cpuSecondsOf(server);
  const auto t0 = SteadyClock::now();
  {
    std::lock_guard g(tally.mu);
    tally.measuring = true;
  }
  std::this_thread::sleep_for(window);
  {
    std::lock_guard g(tally.mu);
    tally.measuring = false;
  }
  Figures f;
  f.name = name;
  f.wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  f.cpu = selfCpuSeconds() - cpu0;
  f.serverCpu = cpuSecondsOf(server) - srv0;
  std::lock_guard g(tally.mu);
  f.checks = static_cast<long>(tally.latencyAll.size());
  const double intervals = f.wall / std::chrono::duration<double>(s.interval).count();
  f.perTargetPerInterval = static_cast<double>(f.checks) / (targets * intervals);
  f.p50ok = percentile(tally.latency200, 0.5);
  f.p99ok = percentile(tally.latency200, 0.99);
  f.latencyAll = summary(tally.latencyAll);
  f.latency200 = summary(tally.latency200);
  if (!tally.startLag.empty()) f.lag = summary(tally.startLag);
  std::printf("== %s\n", name.c_str());
  std::printf("checks %ld in %.1f s = %.0f/s; per target per interval %.3f\n", f.checks, f.wall,
              static_cast<double>(f.checks) / f.wall, f.perTargetPerInterval);
  std::printf(
      "prober process CPU %.1f %% of one core (%.1f s over %.1f s); server process %.1f %%\n",
      100 * f.cpu / f.wall, f.cpu, f.wall, 100 * f.serverCpu / f.wall);
  std::printf("latency, all checks:   %s\n", f.latencyAll.c_str());
  std::printf("latency, answered 200: %s\n", f.latency200.c_str());
  if (!tally.latencyTimeout.empty()) {
    const auto [lo, hi] =
        std::minmax_element(tally.latencyTimeout.begin(), tally.latencyTimeout.end());
    std::printf("latency, timeouts:     min %.1f ms, max %.1f ms (timeout %lld ms)\n",
                static_cast<double>(*lo) / 1000, static_cast<double>(*hi) / 1000,
                static_cast<long long>(s.timeout.count()));
  }
  if (!f.lag.empty()) std::printf("start lag behind schedule: %s\n", f.lag.c_str());
  std::printf("outcomes:");
  for (const auto& [o, n] : tally.outcomes) std::printf(" %s %ld;", o.c_str(), n);
  std::printf("\n");
  std::fflush(stdout);
  return f;
}

kube::ProbeTarget targetOf(const Setup& s, int i) {
  kube::ProbeTarget t;
  t.kind = kube::ProbeTarget::Kind::Http;
  t.host = addressOf(i);
  t.port = s.port;
  t.path = "/healthz";
  t.interval = s.interval;
  t.timeout = s.timeout;
  return t;
}

Figures runProber(const Setup& s, int targets, pid_t server, std::chrono::seconds window) {
  Tally tally;
  kube::Prober prober([&tally](const kube::ProbeResult& r) { tally.add(r); }, {});
  for (int i = 0; i < targets; ++i) prober.upsert(std::to_string(i), targetOf(s, i));
  std::jthread loop([&prober](std::stop_token st) { prober.start(st); });
  return measure(
      "kube::Prober (one thread, curl multi + epoll), " + std::to_string(targets) + " targets", s,
      targets, tally, server, window);
}

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

// The naive way: threads blocking in curl_easy_perform, one check each at a
// time, taking the earliest due target off a shared schedule.
Figures runNaive(const Setup& s, pid_t server, std::chrono::seconds window, int threads) {
  Tally tally;
  struct Due {
    SteadyClock::time_point at;
    int target;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  std::mutex mu;
  std::condition_variable cv;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> schedule;
  std::mt19937_64 rng{42};
  const auto start = SteadyClock::now();
  for (int i = 0; i < s.targets; ++i)
    schedule.push(
        {start + milliseconds(std::uniform_int_distribution<long>(0, s.interval.count() - 1)(rng)),
         i});
  std::atomic<bool> stop{false};
  auto worker = [&] {
    CURL* h = curl_easy_init();
    curl_slist* headers = curl_slist_append(nullptr, "Connection: close");
    std::mt19937_64 local{std::random_device{}()};
    while (!stop) {
      Due d;
      {
        std::unique_lock l(mu);
        while (!stop && schedule.top().at > SteadyClock::now()) cv.wait_until(l, schedule.top().at);
        if (stop) break;
        d = schedule.top();
        schedule.pop();
        const double f = 1.0 + std::uniform_real_distribution<double>(-0.05, 0.05)(local);
        schedule.push(
            {d.at + std::chrono::duration_cast<SteadyClock::duration>(s.interval * f), d.target});
        cv.notify_one();
      }
      const auto began = SteadyClock::now();
      const std::string url =
          "http://" + addressOf(d.target) + ":" + std::to_string(s.port) + "/healthz";
      curl_easy_reset(h);
      curl_easy_setopt(h, CURLOPT_URL, url.c_str());
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(s.timeout.count()));
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.timeout.count()));
      curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &discard);
      const CURLcode rc = curl_easy_perform(h);
      kube::ProbeResult r;
      r.latency = std::chrono::duration_cast<microseconds>(SteadyClock::now() - began);
      if (rc == CURLE_OK) {
        r.outcome = kube::ProbeResult::Outcome::Answered;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.httpStatus);
      } else {
        r.outcome = rc == CURLE_OPERATION_TIMEDOUT ? kube::ProbeResult::Outcome::Timeout
                    : rc == CURLE_COULDNT_CONNECT  ? kube::ProbeResult::Outcome::ConnectFailed
                                                   : kube::ProbeResult::Outcome::Error;
      }
      tally.add(r,
                static_cast<long>(std::chrono::duration_cast<microseconds>(began - d.at).count()));
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  Figures f =
      measure("naive: " + std::to_string(threads) + " threads x blocking curl_easy_perform, " +
                  std::to_string(s.targets) + " targets",
              s, s.targets, tally, server, window);
  {
    std::lock_guard g(mu);
    stop = true;
  }
  cv.notify_all();
  for (auto& t : pool) t.join();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  kube::bench::Flags flags(argc, argv,
                           {{"targets", "10000"},
                            {"interval-ms", "5000"},
                            {"timeout-ms", "2000"},
                            {"seconds", "60"},
                            {"compare-seconds", "45"},
                            {"naive-threads", "64"},
                            {"small-targets", "1000"},
                            {"small-seconds", "30"},
                            {"port", "8080"},
                            {"hang-percent", "1"},
                            {"fail-percent", "1"},
                            {"serve-only", "false"}});
  Setup s;
  s.targets = static_cast<int>(flags.num("targets"));
  s.port = static_cast<int>(flags.num("port"));
  s.interval = milliseconds(flags.num("interval-ms"));
  s.timeout = milliseconds(flags.num("timeout-ms"));
  s.hangPercent = static_cast<int>(flags.num("hang-percent"));
  s.failPercent = static_cast<int>(flags.num("fail-percent"));
  if (s.targets < 1 || s.targets > 254 * 256 || s.hangPercent + s.failPercent > 100) {
    std::fprintf(stderr, "--targets must be 1..65024, hang + fail percent at most 100\n");
    return 2;
  }
  raiseFileLimit();

  if (flags.on("serve-only")) {
    kubec2::sim::HttpServers servers;
    if (auto err = openListeners(s, servers); !err.empty()) {
      std::fprintf(stderr, "listeners: %s\n", err.c_str());
      return 1;
    }
    std::printf("serving %d targets on 127.2.x.y:%d; Ctrl-C to stop\n", s.targets, s.port);
    std::fflush(stdout);
    pause();
    return 0;
  }

  // The servers in a child, forked while this process has no thread, so
  // that the prober's CPU is measured alone.
  int ready[2], hold[2];
  if (pipe(ready) != 0 || pipe(hold) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    close(hold[1]);
    kubec2::sim::HttpServers servers;
    const std::string err = openListeners(s, servers);
    const std::string msg = err.empty() ? "ok" : err;
    (void)!write(ready[1], msg.data(), msg.size());
    close(ready[1]);
    if (!err.empty()) _exit(1);
    char c;
    while (read(hold[0], &c, 1) > 0) {
    }  // until the parent exits or closes it
    _exit(err.empty() ? 0 : 1);
  }
  close(ready[1]);
  close(hold[0]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(ready[0], buf, sizeof buf)) > 0;)
    msg.append(buf, static_cast<std::size_t>(n));
  if (msg != "ok") {
    std::fprintf(stderr, "listeners: %s\n", msg.c_str());
    close(hold[1]);
    waitpid(child, nullptr, 0);
    return 1;
  }
  kube::globalInit();

  std::printf("targets %d (%d%% hang, %d%% answer 503), interval %lld ms, timeout %lld ms\n",
              s.targets, s.hangPercent, s.failPercent, static_cast<long long>(s.interval.count()),
              static_cast<long long>(s.timeout.count()));
  std::fflush(stdout);
  const Figures a = runProber(s, s.targets, child, std::chrono::seconds(flags.num("seconds")));
  const Figures b = runNaive(s, child, std::chrono::seconds(flags.num("compare-seconds")),
                             static_cast<int>(flags.num("naive-threads")));
  const int small = static_cast<int>(std::min<long>(flags.num("small-targets"), s.targets));
  const Figures c =
      small > 0 ? runProber(s, small, child, std::chrono::seconds(flags.num("small-seconds")))
                : Figures{};
  auto perCheck = [](const Figures& f) {
    return f.cpu / static_cast<double>(std::max(f.checks, 1L));
  };
  std::printf("== ratios\n");
  std::printf(
      "prober: %.1f %% of one core for %d targets (goal: under 100 %%); CPU per check %.0f us\n",
      100 * a.cpu / a.wall, s.targets, 1e6 * perCheck(a));
  std::printf("naive / prober: CPU per check %.2fx; latency of 200s p50 %.2fx, p99 %.2fx\n",
              perCheck(b) / perCheck(a), b.p50ok / std::max(a.p50ok, 1e-9),
              b.p99ok / std::max(a.p99ok, 1e-9));
  if (small > 0)
    std::printf(
        "prober %d / %d targets: CPU per check %.2fx; latency of 200s p50 %.2fx, p99 %.2fx\n",
        s.targets, small, perCheck(a) / perCheck(c), a.p50ok / std::max(c.p50ok, 1e-9),
        a.p99ok / std::max(c.p99ok, 1e-9));

  close(hold[1]);
  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  return 0;
}
