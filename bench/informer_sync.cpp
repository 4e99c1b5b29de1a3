// bench_informer_sync: how long an Informer<RawObject> takes to sync a large
// namespace and how much memory the process holds afterwards. Compare with
// bench/clientgo-informer (client-go's dynamic informer) on the same objects.
//
//   bench_informer_sync --kubeconfig FILE --namespace NS --populate 10000 [--size 1750]
//                       [--connections 8]
//   bench_informer_sync --kubeconfig FILE --namespace NS --measure
//
// --populate creates the namespace and N widgets whose JSON is `size` bytes.
// --measure (run it in a fresh process) starts the informer, waits for
// hasSynced, and prints one line: the sync time and VmRSS/VmHWM of the process
// before and after (and after malloc_trim, the counterpart of the Go side's
// figure after a forced GC).
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"
#include "runtime/client.h"
#include "runtime/config.h"
#include "runtime/http_transport.h"
#include "runtime/informer.h"
#include "runtime/object.h"

namespace {

using kube::bench::kWidgets;
using kube::bench::secondsSince;

int populate(kube::Client& client, const std::string& ns, size_t count, size_t size, int threads) {
  kube::bench::ensureNamespace(client, ns);
  std::atomic<size_t> next{0};
  std::atomic<size_t> existed{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      try {
        for (size_t i = next++; i < count; i = next++) {
          char name[32];
          std::snprintf(name, sizeof name, "w-%06zu", i);
          try {
            client.create(kWidgets, ns, kube::bench::widget(name, size));
          } catch (const kube::ApiError& e) {
            if (!e.isAlreadyExists()) throw;
            existed++;
          }
        }
      } catch (...) {
        std::lock_guard l(mu);
        if (!failure) failure = std::current_exception();
        next = count;
      }
    });
  }
  pool.clear();  // joins
  if (failure) std::rethrow_exception(failure);
  double secs = secondsSince(start);
  std::printf("populated %s: %zu widgets of %zu bytes (%zu existed) in %.1f s (%.0f/s)\n",
              ns.c_str(), count, size, existed.load(), secs, static_cast<double>(count) / secs);
  return 0;
}

int measure(kube::Client& client, const std::string& ns, double timeoutSeconds) {
  kube::bench::MemStatus before = kube::bench::memStatus();
  auto start = std::chrono::steady_clock::now();
  kube::InformerOptions opts;
  opts.namespace_ = ns;
  kube::Informer<kube::RawObject> informer(client, kWidgets, opts);
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  while (!informer.hasSynced()) {
    if (secondsSince(start) > timeoutSeconds) {
      std::fprintf(stderr, "informer did not sync in %.0f s: %s\n", timeoutSeconds,
                   informer.lastError().c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double secs = secondsSince(start);
  kube::bench::MemStatus after = kube::bench::memStatus();
  size_t objects = informer.store().size();
  malloc_trim(0);
  kube::bench::MemStatus trimmed = kube::bench::memStatus();
  runner.request_stop();
  runner.join();
  std::printf(
      "impl=kubec2 objects=%zu sync_ms=%.1f rss_before_kb=%ld rss_after_kb=%ld hwm_kb=%ld "
      "rss_after_trim_kb=%ld\n",
      objects, secs * 1000, before.rssKb, after.rssKb, after.hwmKb, trimmed.rssKb);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    kube::bench::Flags f(argc, argv,
                         {{"kubeconfig", ""},
                          {"namespace", "bench-informer"},
                          {"populate", "0"},
                          {"size", "1750"},
                          {"connections", "8"},
                          {"measure", "false"},
                          {"timeout", "600"}});
    kube::globalInit();
    kube::RestConfig cfg = kube::loadKubeconfig({f.str("kubeconfig")});
    cfg.qps = 0;
    kube::RestClient client(cfg);
    if (f.num("populate") > 0) {
      int rc = populate(client, f.str("namespace"), static_cast<size_t>(f.num("populate")),
                        static_cast<size_t>(f.num("size")), static_cast<int>(f.num("connections")));
      if (rc != 0) return rc;
    }
    if (f.on("measure"))
      return measure(client, f.str("namespace"), static_cast<double>(f.num("timeout")));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_informer_sync: %s\n", e.what());
    return 1;
  }
}
