// Kubernetes Events (core/v1) about the objects a controller manages, after
// client-go's tools/record: what `kubectl describe` shows under "Events".
//
// event() never blocks the caller: events go to a bounded queue written by a
// background thread, and are dropped (with a log line) when the queue is full
// or the server keeps failing. Events are best-effort by design; a reconciler
// must never stall or fail because the API server is slow to take them.
//
// As client-go's EventCorrelator, a repeat of an event (same object, type,
// reason, message and source) is not a new Event: the existing one gets
// count + 1 and a new lastTimestamp by merge patch, which keeps a hot loop
// from flooding etcd.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "runtime/clock.h"

namespace kube {

class Client;

enum class EventType { Normal, Warning };
std::string_view toString(EventType t);

// core/v1 ObjectReference to the object an event is about.
struct ObjectRef {
  std::string apiVersion;
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resourceVersion;

  // From any object's apiVersion, kind and metadata.
  static ObjectRef fromObject(const nlohmann::json& obj);
  nlohmann::json toJson() const;
};

// The API server's limit on an Event's message (events.k8s.io's noteLengthLimit).
inline constexpr std::size_t kMaxEventMessageBytes = 1024;

// Cuts `message` to at most `maxBytes` bytes without splitting a UTF-8
// sequence (a split one would make the JSON body invalid).
std::string truncateUtf8(std::string message, std::size_t maxBytes);

// The narrow slice of the API the recorder needs, so tests run without a
// server. Failures throw ApiError.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual nlohmann::json create(const std::string& ns, const nlohmann::json& event) = 0;
  virtual nlohmann::json patch(const std::string& ns, const std::string& name,
                               const nlohmann::json& mergePatch) = 0;
};

// EventSink over the generic client (events_client.cpp). `client` must
// outlive the result.
std::unique_ptr<EventSink> makeEventSink(Client& client);

// What reconcilers depend on: narrow, so their tests can capture events in
// memory without a thread.
class Recorder {
 public:
  virtual ~Recorder() = default;
  virtual void event(const ObjectRef& obj, EventType type, const std::string& reason,
                     const std::string& message) = 0;
};

struct EventRecorderOptions {
  std::string component{};  // source.component and reportingComponent, e.g. "kubec2"
  std::string host{};       // source.host and reportingInstance; empty: the host name
  std::size_t queueCapacity = 1000;
  int maxAttempts = 3;  // per write, on 5xx, 429 and transport errors
  std::chrono::milliseconds retryDelay{1000};
  std::size_t cacheSize = 4096;  // events remembered for correlation (LRU)
  const Clock* clock = nullptr;  // nullptr: the system clock
};

class EventRecorder final : public Recorder {
 public:
  EventRecorder(std::unique_ptr<EventSink> sink, EventRecorderOptions opts);
  // Writes what is still queued (one attempt each), then stops the thread.
  ~EventRecorder() override;
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void event(const ObjectRef& obj, EventType type, const std::string& reason,
             const std::string& message) override;

  // Blocks until every event queued before the call is written or dropped.
  void flush();
  // Events dropped so far: queue full, or the write failed.
  std::size_t dropped() const;

 private:
  struct Item {
    ObjectRef ref;
    EventType type = EventType::Normal;
    std::string reason;
    std::string message;
    std::chrono::system_clock::time_point at;
  };
  // What is remembered of a written Event, to patch it on a repeat.
  struct Seen {
    std::string ns;
    std::string name;
    long long count = 0;
  };

  void loop();
  // False when the event was dropped (logged already).
  bool write(const Item& item);
  bool createEvent(const Item& item, const std::string& key);
  // Runs `op` up to maxAttempts times on retriable errors; false when it failed.
  // A NotFound is rethrown for the caller to handle.
  template <typename Op>
  bool withRetries(const char* what, const Item& item, Op&& op);
  std::string correlationKey(const Item& item) const;
  Seen* findSeen(const std::string& key);
  void remember(const std::string& key, Seen seen);
  void forget(const std::string& key);

  std::unique_ptr<EventSink> sink_;
  EventRecorderOptions opts_;
  const Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;      // work queued, or stopping
  std::condition_variable idleCv_;  // an item finished
  std::deque<Item> queue_;
  bool stopping_ = false;
  unsigned long long enqueued_ = 0;  // items ever queued
  unsigned long long finished_ = 0;  // items written or dropped by the worker
  std::size_t dropped_ = 0;

  // Worker-thread state: no lock needed.
  std::list<std::pair<std::string, Seen>> lru_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, Seen>>::iterator> seen_;
  long long lastNameNanos_ = 0;

  std::thread worker_;  // last: starts after everything above exists
};

}  // namespace kube
