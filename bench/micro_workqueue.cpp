// Work queue throughput: add/get/done cycles on one thread, and with several
// producers and consumers contending for the queue's lock.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "runtime/workqueue.h"

namespace {

std::vector<std::string> makeKeys(size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i)
    keys.push_back("namespace-" + std::to_string(i % 97) + "/name-" + std::to_string(i));
  return keys;
}

// One key through add -> get -> done per iteration.
void BM_AddGetDone(benchmark::State& state) {
  const auto keys = makeKeys(1024);
  kube::WorkQueue q;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& k = keys[i++ % keys.size()];
    q.add(k);
    auto got = q.get();
    benchmark::DoNotOptimize(got);
    q.done(*got);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddGetDone);

// A batch of distinct keys added, then all taken and finished: the queue
// holds `range(0)` keys at its deepest.
void BM_AddBatchThenDrain(benchmark::State& state) {
  const auto keys = makeKeys(static_cast<size_t>(state.range(0)));
  kube::WorkQueue q;
  for (auto _ : state) {
    for (const auto& k : keys) q.add(k);
    for (size_t n = 0; n < keys.size(); ++n) {
      auto got = q.get();
      q.done(*got);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AddBatchThenDrain)->Arg(100)->Arg(10000);

// Adds of keys already waiting: the dedupe path.
void BM_AddDuplicate(benchmark::State& state) {
  const auto keys = makeKeys(1024);
  kube::WorkQueue q;
  for (const auto& k : keys) q.add(k);
  size_t i = 0;
  for (auto _ : state) q.add(keys[i++ % keys.size()]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddDuplicate);

// `producers` threads add distinct keys, `consumers` threads get and finish
// them; one iteration moves every key through the queue once. Distinct keys
// so that every add is one get and the consumers know when they are done.
void BM_ProducersConsumers(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const int consumers = static_cast<int>(state.range(1));
  constexpr size_t kPerProducer = 20000;
  std::vector<std::vector<std::string>> keys(static_cast<size_t>(producers));
  for (size_t p = 0; p < keys.size(); ++p) {
    for (size_t i = 0; i < kPerProducer; ++i) {
      std::string key = "p";
      key += std::to_string(p);
      key += "/k";
      key += std::to_string(i);
      keys[p].push_back(std::move(key));
    }
  }
  const size_t total = kPerProducer * static_cast<size_t>(producers);

  for (auto _ : state) {
    kube::WorkQueue q;
    std::atomic<size_t> handled{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&] {
        while (auto key = q.get()) {
          q.done(*key);
          handled.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    std::vector<std::thread> adders;
    for (const auto& mine : keys) {
      adders.emplace_back([&q, &mine] {
        for (const auto& k : mine) q.add(k);
      });
    }
    for (auto& t : adders) t.join();
    while (handled.load() < total) std::this_thread::yield();
    q.shutDown();  // wakes the consumers blocked in get()
    for (auto& t : threads) t.join();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(total));
}
BENCHMARK(BM_ProducersConsumers)
    ->Args({4, 2})
    ->ArgNames({"producers", "consumers"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
