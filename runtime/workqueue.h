// The controller work queue, with client-go's rules:
//  - a key waiting in the queue is held once, however often it is added;
//  - a key being processed is never handed to a second worker; if it is added
//    meanwhile it is queued again when the first worker calls done();
//  - per-key exponential backoff on failure (addRateLimited), reset by forget();
//  - an overall token bucket (qps, burst) on rate-limited adds;
//  - delayed adds (addAfter) for requeue-after;
//  - shutDown() stops handing out keys; shutDownWithDrain() waits for keys in
//    flight to be done first.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "runtime/clock.h"

namespace kube {

struct WorkQueueOptions {
  std::string name;  // metric label; empty: no metrics
  std::chrono::milliseconds baseDelay{5};
  std::chrono::milliseconds maxDelay{1000 * 1000};  // 1000 s
  double qps = 10;                                  // overall token bucket for rate-limited adds
  int burst = 100;
  const Clock* clock = nullptr;  // nullptr: the system clock
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions opts = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void addAfter(const std::string& key, std::chrono::steady_clock::duration delay);
  // Adds after the key's own backoff (and the overall bucket's) delay; counts a retry.
  void addRateLimited(const std::string& key);
  // Clears the key's failure count (call on success).
  void forget(const std::string& key);
  int numRequeues(const std::string& key) const;

  // Blocks until a key is ready or the queue shuts down (nullopt).
  std::optional<std::string> get();
  // Marks a key from get() finished; re-queues it if it was added meanwhile.
  void done(const std::string& key);

  void shutDown();
  // Stops accepting new keys and waits until every key handed out is done.
  void shutDownWithDrain();
  bool shuttingDown() const;

  size_t len() const;  // keys waiting (not those in flight or delayed)

  // Re-examines delayed keys against the clock; with a fake clock, call after
  // advancing it. (With the system clock a background thread does this.)
  void poke();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kube
