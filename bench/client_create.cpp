// bench_client_create: the create rate of kube::Client against a plain libcurl
// loop doing the same POSTs, measured side by side in one run.
//
//   bench_client_create --kubeconfig FILE [--namespace PREFIX] [--count 2000]
//                       [--connections 8] [--size small|1750] [--rounds 2] [--warmup 200]
//
// After an untimed warm-up of both sides (the API server's first writes of a
// resource are slow), each round runs the raw loop and the client, each in a
// fresh namespace (PREFIX-SIZE-rROUND-raw / -client), `count` objects from
// `connections` threads; the order alternates (raw, client, client, raw, ...)
// so that a drift of the machine's speed falls on both sides alike. The raw
// loop gives each thread its own keep-alive easy handle with the same TLS
// material (CA, client certificate) and the same JSON bodies; the client side
// shares one kube::Client (qps 0: no client-side limit). The last line is a
// machine-readable summary for hack/bench.sh.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"
#include "runtime/client.h"
#include "runtime/config.h"
#include "runtime/http_transport.h"

namespace {

using kube::bench::kWidgets;
using kube::bench::secondsSince;

size_t collect(char* ptr, size_t size, size_t n, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * n);
  return size * n;
}

struct Run {
  size_t objects = 0;
  double seconds = 0;
  double cpuSeconds = 0;  // this process's CPU time (all threads)
  double rate() const { return seconds > 0 ? static_cast<double>(objects) / seconds : 0; }
  double cpuMicrosPerObject() const {
    return objects > 0 ? cpuSeconds * 1e6 / static_cast<double>(objects) : 0;
  }
};

double processCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `work(i)` for i in [0, count) on `threads` threads pulling from one
// counter; `makeState` builds each thread's state. Returns the wall time and
// adds the process's CPU time to `cpuSeconds`.
template <typename State, typename MakeState, typename Work>
double runParallel(double& cpuSeconds, size_t count, int threads, MakeState makeState, Work work) {
  std::atomic<size_t> next{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::exception_ptr failure;
  std::mutex failureMu;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      State st = makeState();
      ready++;
      while (!go.load()) std::this_thread::yield();
      try {
        for (size_t i = next++; i < count; i = next++) work(st, i);
      } catch (...) {
        std::lock_guard l(failureMu);
        if (!failure) failure = std::current_exception();
        next = count;
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  double cpuStart = processCpuSeconds();
  go = true;
  for (auto& th : pool) th.join();
  double secs = secondsSince(start);
  cpuSeconds += processCpuSeconds() - cpuStart;
  if (failure) std::rethrow_exception(failure);
  return secs;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

// One thread's state for the raw loop: a keep-alive easy handle set up once.
struct RawHandle {
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  std::string response;
};

RawHandle makeRawHandle(const kube::RestConfig& cfg, const std::string& url) {
  RawHandle h;
  h.curl.reset(curl_easy_init());
  CURL* c = h.curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_blob ca{const_cast<char*>(cfg.caPem.data()), cfg.caPem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  if (!cfg.clientCertPem.empty()) {
    curl_blob cert{const_cast<char*>(cfg.clientCertPem.data()), cfg.clientCertPem.size(),
                   CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(cfg.clientKeyPem.data()), cfg.clientKeyPem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_slist* hs = nullptr;
  hs = curl_slist_append(hs, "Content-Type: application/json");
  hs = curl_slist_append(hs, "Accept: application/json");
  if (!cfg.token.empty())
    hs = curl_slist_append(hs, ("Authorization: Bearer " + cfg.token).c_str());
  h.headers.reset(hs);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  return h;
}

Run rawRound(const kube::RestConfig& cfg, const std::string& ns,
             const std::vector<std::string>& bodies, int threads) {
  std::string url = cfg.server + kWidgets.collectionPath(ns);
  Run r;
  r.objects = bodies.size();
  r.seconds = runParallel<RawHandle>(
      r.cpuSeconds, bodies.size(), threads, [&] { return makeRawHandle(cfg, url); },
      [&](RawHandle& h, size_t i) {
        CURL* c = h.curl.get();
        h.response.clear();
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &h.response);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, bodies[i].data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(bodies[i].size()));
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || code != 201)
          throw std::runtime_error("raw POST failed: " + std::string(curl_easy_strerror(rc)) +
                                   " HTTP " + std::to_string(code) + " " +
                                   h.response.substr(0, 200));
      });
  return r;
}

Run clientRound(kube::Client& client, const std::string& ns,
                const std::vector<nlohmann::json>& objs, int threads) {
  struct None {};
  Run r;
  r.objects = objs.size();
  r.seconds = runParallel<None>(
      r.cpuSeconds, objs.size(), threads, [] { return None{}; },
      [&](None&, size_t i) { client.create(kWidgets, ns, objs[i]); });
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    kube::bench::Flags f(argc, argv,
                         {{"kubeconfig", ""},
                          {"namespace", "bench-create"},
                          {"count", "2000"},
                          {"connections", "8"},
                          {"size", "small"},
                          {"rounds", "2"},
                          {"warmup", "200"}});
    kube::globalInit();
    kube::RestConfig cfg = kube::loadKubeconfig({f.str("kubeconfig")});
    cfg.qps = 0;
    const auto count = static_cast<size_t>(f.num("count"));
    const int threads = static_cast<int>(f.num("connections"));
    const std::string size = f.str("size");
    const size_t target = size == "small" ? 0 : static_cast<size_t>(std::stol(size));
    const long rounds = f.num("rounds");

    std::vector<nlohmann::json> objs;
    std::vector<std::string> bodies;
    objs.reserve(count);
    bodies.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "w-%06zu", i);
      objs.push_back(kube::bench::widget(name, target));
      bodies.push_back(objs.back().dump());
    }

    kube::RestClient client(cfg);
    std::printf("create: %zu objects of %zu bytes of JSON, %d connections, %ld rounds\n", count,
                bodies.front().size(), threads, rounds);
    const auto warmup = std::min(count, static_cast<size_t>(f.num("warmup")));
    if (warmup > 0) {
      std::string base = f.str("namespace") + "-" + size + "-warmup";
      kube::bench::ensureNamespace(client, base + "-raw");
      kube::bench::ensureNamespace(client, base + "-client");
      rawRound(cfg, base + "-raw", {bodies.begin(), bodies.begin() + static_cast<long>(warmup)},
               threads);
      clientRound(client, base + "-client",
                  {objs.begin(), objs.begin() + static_cast<long>(warmup)}, threads);
    }
    Run raw, lib;
    auto add = [](Run& total, const Run& one) {
      total.objects += one.objects;
      total.seconds += one.seconds;
      total.cpuSeconds += one.cpuSeconds;
    };
    for (long round = 1; round <= rounds; ++round) {
      std::string base = f.str("namespace") + "-" + size + "-r" + std::to_string(round);
      kube::bench::ensureNamespace(client, base + "-raw");
      kube::bench::ensureNamespace(client, base + "-client");
      for (int side = 0; side < 2; ++side) {
        bool rawTurn = (side == 0) == (round % 2 == 1);
        Run one = rawTurn ? rawRound(cfg, base + "-raw", bodies, threads)
                          : clientRound(client, base + "-client", objs, threads);
        std::printf("  round %ld %-7s %8.1f objects/s (%.2f s, %.0f us of CPU per object)\n", round,
                    rawTurn ? "raw" : "client", one.rate(), one.seconds, one.cpuMicrosPerObject());
        std::fflush(stdout);
        add(rawTurn ? raw : lib, one);
      }
    }
    std::printf(
        "RESULT create size=%s bytes=%zu connections=%d count=%zu raw=%.1f client=%.1f "
        "ratio=%.3f raw_cpu_us=%.0f client_cpu_us=%.0f\n",
        size.c_str(), bodies.front().size(), threads, count, raw.rate(), lib.rate(),
        raw.rate() > 0 ? lib.rate() / raw.rate() : 0, raw.cpuMicrosPerObject(),
        lib.cpuMicrosPerObject());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_client_create: %s\n", e.what());
    return 1;
  }
}
