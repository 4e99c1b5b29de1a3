#include "runtime/events.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <ctime>

#include <spdlog/spdlog.h>

#include "runtime/errors.h"
#include "runtime/timefmt.h"

namespace kube {
namespace {

std::string stringField(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string hostName() {
  std::array<char, HOST_NAME_MAX + 1> host{};
  if (gethostname(host.data(), host.size()) != 0) return "unknown";
  host.back() = '\0';
  return host.data();
}

}  // namespace

std::string_view toString(EventType t) {
  return t == EventType::Warning ? "Warning" : "Normal";
}

ObjectRef ObjectRef::fromObject(const nlohmann::json& obj) {
  ObjectRef r;
  r.apiVersion = stringField(obj, "apiVersion");
  r.kind = stringField(obj, "kind");
  if (auto m = obj.find("metadata"); m != obj.end() && m->is_object()) {
    r.namespace_ = stringField(*m, "namespace");
    r.name = stringField(*m, "name");
    r.uid = stringField(*m, "uid");
    r.resourceVersion = stringField(*m, "resourceVersion");
  }
  return r;
}

nlohmann::json ObjectRef::toJson() const {
  nlohmann::json j = {{"apiVersion", apiVersion}, {"kind", kind}, {"name", name}};
  if (!namespace_.empty()) j["namespace"] = namespace_;
  if (!uid.empty()) j["uid"] = uid;
  if (!resourceVersion.empty()) j["resourceVersion"] = resourceVersion;
  return j;
}

std::string truncateUtf8(std::string message, std::size_t maxBytes) {
  if (message.size() <= maxBytes) return message;
  std::size_t cut = maxBytes;
  // message[cut] is the first byte dropped; while it continues a sequence,
  // the sequence straddles the cut and its lead byte goes too.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0u) == 0x80u) --cut;
  message.resize(cut);
  return message;
}

EventRecorder::EventRecorder(std::unique_ptr<EventSink> sink, EventRecorderOptions opts)
    : sink_(std::move(sink)),
      opts_(std::move(opts)),
      clock_(opts_.clock ? opts_.clock : &SystemClock::instance()) {
  if (!sink_) throw std::invalid_argument("EventRecorder: no EventSink");
  if (opts_.component.empty()) throw std::invalid_argument("EventRecorder: component is empty");
  if (opts_.host.empty()) opts_.host = hostName();
  opts_.maxAttempts = std::max(opts_.maxAttempts, 1);
  opts_.cacheSize = std::max<std::size_t>(opts_.cacheSize, 1);
  worker_ = std::thread([this] { loop(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void EventRecorder::event(const ObjectRef& obj, EventType type, const std::string& reason,
                          const std::string& message) {
  Item item{obj, type, reason, truncateUtf8(message, kMaxEventMessageBytes), clock_->wallNow()};
  spdlog::debug("event {} {}/{}: {} {}: {}", obj.kind, obj.namespace_, obj.name, toString(type),
                reason, item.message);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ || queue_.size() >= opts_.queueCapacity) {
      ++dropped_;
      spdlog::warn("event queue {}, dropping event {} {}/{}: {} {}", stopping_ ? "stopped" : "full",
                   obj.kind, obj.namespace_, obj.name, reason, item.message);
      return;
    }
    queue_.push_back(std::move(item));
    ++enqueued_;
  }
  cv_.notify_all();
}

void EventRecorder::flush() {
  std::unique_lock<std::mutex> l(mu_);
  const auto target = enqueued_;
  idleCv_.wait(l, [&] { return finished_ >= target; });
}

std::size_t EventRecorder::dropped() const {
  std::lock_guard<std::mutex> l(mu_);
  return dropped_;
}

void EventRecorder::loop() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    bool ok = false;
    try {
      ok = write(item);
    } catch (const std::exception& e) {
      spdlog::warn("dropping event {} {}/{}: {}: {}", item.ref.kind, item.ref.namespace_,
                   item.ref.name, item.reason, e.what());
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ++finished_;
      if (!ok) ++dropped_;
    }
    idleCv_.notify_all();
  }
}

bool EventRecorder::write(const Item& item) {
  const std::string key = correlationKey(item);
  if (Seen* seen = findSeen(key)) {
    const Seen target = *seen;
    const nlohmann::json patch = {{"count", target.count + 1},
                                  {"lastTimestamp", formatRfc3339(item.at)}};
    try {
      if (!withRetries("patching", item, [&] { sink_->patch(target.ns, target.name, patch); })) {
        return false;
      }
      if (Seen* s = findSeen(key)) s->count = target.count + 1;
      return true;
    } catch (const ApiError& e) {
      if (!e.isNotFound()) throw;
      // The Event expired (the server keeps them about an hour): start anew.
      forget(key);
    }
  }
  return createEvent(item, key);
}

bool EventRecorder::createEvent(const Item& item, const std::string& key) {
  // client-go's naming: <object>.<unix nanoseconds in hex>, kept strictly
  // increasing so two events in the same nanosecond (or under a fake clock)
  // do not collide.
  const long long nanos = std::max<long long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(item.at.time_since_epoch()).count(),
      lastNameNanos_ + 1);
  lastNameNanos_ = nanos;
  std::array<char, 24> hex{};
  std::snprintf(hex.data(), hex.size(), "%llx", static_cast<unsigned long long>(nanos));
  const std::string name = item.ref.name + "." + hex.data();
  // An Event lives in its object's namespace; cluster-scoped objects' in "default".
  const std::string ns = item.ref.namespace_.empty() ? "default" : item.ref.namespace_;
  const std::string ts = formatRfc3339(item.at);
  // core/v1 spells reportingController "reportingComponent" on the wire.
  const nlohmann::json ev = {{"apiVersion", "v1"},
                             {"kind", "Event"},
                             {"metadata", {{"name", name}, {"namespace", ns}}},
                             {"involvedObject", item.ref.toJson()},
                             {"type", toString(item.type)},
                             {"reason", item.reason},
                             {"message", item.message},
                             {"source", {{"component", opts_.component}, {"host", opts_.host}}},
                             {"firstTimestamp", ts},
                             {"lastTimestamp", ts},
                             {"count", 1},
                             {"reportingComponent", opts_.component},
                             {"reportingInstance", opts_.host}};
  bool ok = false;
  try {
    ok = withRetries("creating", item, [&] { sink_->create(ns, ev); });
  } catch (const ApiError& e) {  // NotFound: the namespace is gone
    spdlog::warn("creating event {} {}/{}: {}", item.ref.kind, ns, item.ref.name, e.what());
    return false;
  }
  if (ok) remember(key, Seen{ns, name, 1});
  return ok;
}

template <typename Op>
bool EventRecorder::withRetries(const char* what, const Item& item, Op&& op) {
  for (int attempt = 1;; ++attempt) {
    try {
      op();
      return true;
    } catch (const ApiError& e) {
      if (e.isNotFound()) throw;
      const bool retriable = e.isServerError() || e.isTooManyRequests() || e.isTransport();
      std::unique_lock<std::mutex> l(mu_);
      if (!retriable || attempt >= opts_.maxAttempts || stopping_) {
        spdlog::warn("{} event {} {}/{} ({}), attempt {}: {}", what, item.ref.kind,
                     item.ref.namespace_, item.ref.name, item.reason, attempt, e.what());
        return false;
      }
      // Interruptible by shutdown, which then gives each event one attempt.
      const auto deadline = clock_->now() + opts_.retryDelay;
      while (!stopping_ && clock_->now() < deadline) clock_->waitUntil(cv_, l, deadline);
    } catch (const std::exception& e) {
      // Not the server's answer (e.g. a message that is not UTF-8): retrying
      // cannot help.
      spdlog::warn("{} event {} {}/{} ({}): {}", what, item.ref.kind, item.ref.namespace_,
                   item.ref.name, item.reason, e.what());
      return false;
    }
  }
}

std::string EventRecorder::correlationKey(const Item& item) const {
  // Length-prefixed so that no two different tuples share a key. Source
  // (component, host) is this recorder's own and so implied.
  std::string key;
  for (std::string_view part :
       {std::string_view(item.ref.apiVersion), std::string_view(item.ref.kind),
        std::string_view(item.ref.namespace_), std::string_view(item.ref.name),
        std::string_view(item.ref.uid), toString(item.type), std::string_view(item.reason),
        std::string_view(item.message)}) {
    key += std::to_string(part.size());
    key += ':';
    key += part;
  }
  return key;
}

EventRecorder::Seen* EventRecorder::findSeen(const std::string& key) {
  auto it = seen_.find(key);
  if (it == seen_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
  return &it->second->second;
}

void EventRecorder::remember(const std::string& key, Seen seen) {
  if (Seen* s = findSeen(key)) {
    *s = std::move(seen);
    return;
  }
  lru_.emplace_front(key, std::move(seen));
  seen_[key] = lru_.begin();
  if (lru_.size() > opts_.cacheSize) {
    seen_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void EventRecorder::forget(const std::string& key) {
  auto it = seen_.find(key);
  if (it == seen_.end()) return;
  lru_.erase(it->second);
  seen_.erase(it);
}

}  // namespace kube
