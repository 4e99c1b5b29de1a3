#include "runtime/informer.h"

#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "runtime/wait.h"

namespace kube {
namespace {

// Sleeps up to `d`, waking early when `stop` is requested.
void sleepFor(const std::stop_token& stop, std::chrono::milliseconds d) {
  waitFor(SystemClock::instance(), d, stop);
}

}  // namespace

Reflector::Reflector(Client& client, Resource resource, InformerOptions opts, Sink& sink)
    : client_(client), resource_(std::move(resource)), opts_(std::move(opts)), sink_(sink) {}

std::string Reflector::lastError() const {
  std::lock_guard l(mu_);
  return lastError_;
}

std::string Reflector::lastResourceVersion() const {
  std::lock_guard l(mu_);
  return rv_;
}

void Reflector::setError(const std::string& e) {
  std::lock_guard l(mu_);
  lastError_ = e;
}

void Reflector::listAll(std::stop_token stop, bool fromCache) {
  ListOptions lo;
  lo.labelSelector = opts_.labelSelector;
  lo.fieldSelector = opts_.fieldSelector;
  lo.limit = opts_.pageSize;  // ignored by the watch cache for resourceVersion 0
  if (fromCache) lo.resourceVersion = "0";
  sink_.beginList();
  std::string rv;
  try {
    rv = client_.listEachText(resource_, opts_.namespace_, lo,
                              [&](std::string_view item) { sink_.listItem(item); });
  } catch (...) {
    sink_.abortList();
    throw;
  }
  if (stop.stop_requested()) {
    sink_.abortList();
    return;
  }
  lists_++;
  sink_.endList();
  {
    std::lock_guard l(mu_);
    rv_ = rv;
    lastError_.clear();
  }
  synced_ = true;
}

bool Reflector::watchOnce(std::stop_token stop) {
  WatchOptions wo;
  wo.labelSelector = opts_.labelSelector;
  wo.fieldSelector = opts_.fieldSelector;
  wo.resourceVersion = lastResourceVersion();
  wo.allowWatchBookmarks = true;
  wo.timeoutSeconds = opts_.watchTimeoutSeconds;
  bool gone = false;
  watches_++;
  client_.watch(
      resource_, opts_.namespace_, wo,
      [&](WatchEvent&& ev) {
        if (ev.type == "ERROR") {
          Status s = Status::fromJson(ev.object, ev.object.value("code", 0));
          if (s.code == 410 || s.reason == "Expired" || s.reason == "Gone") {
            gone = true;
            return false;
          }
          throw ApiError(std::move(s));
        }
        std::string rv;
        if (auto m = ev.object.find("metadata"); m != ev.object.end())
          rv = m->value("resourceVersion", "");
        if (ev.type == "ADDED" || ev.type == "MODIFIED") {
          sink_.upsert(std::move(ev.object));
        } else if (ev.type == "DELETED") {
          sink_.erase(std::move(ev.object));
        }
        // BOOKMARK: only the resourceVersion moves on.
        if (!rv.empty()) {
          std::lock_guard l(mu_);
          rv_ = rv;
          lastError_.clear();
        }
        return true;
      },
      stop);
  return !gone;
}

void Reflector::run(std::stop_token stop) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  auto backoff = opts_.minBackoff;
  bool needList = true;
  const std::string what =
      resource_.resource + (opts_.namespace_.empty() ? "" : " in " + opts_.namespace_);
  while (!stop.stop_requested()) {
    try {
      if (needList) {
        // Only a list before anything was seen may come from the watch
        // cache: later, a cached answer could be older than what we have
        // already delivered, so relists read from etcd.
        listAll(stop, lastResourceVersion().empty());
        needList = false;
      }
      if (stop.stop_requested()) break;
      if (!watchOnce(stop)) {
        spdlog::info("informer {}: watch expired (410), relisting", what);
        needList = true;
        continue;  // relist at once: 410 is not a failure of the server
      }
      backoff = opts_.minBackoff;  // a watch that ended normally: resume from rv
    } catch (const ApiError& e) {
      if (stop.stop_requested()) break;
      setError(e.what());
      if (e.isGone()) {
        needList = true;  // e.g. 410 on a list or watch request itself
        continue;
      }
      // Jittered exponential backoff so that many informers recovering from
      // one API server restart do not return in lockstep.
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      auto wait = std::chrono::milliseconds(
          static_cast<long>(static_cast<double>(backoff.count()) * jitter(rng)));
      spdlog::warn("informer {}: {}; retrying in {} ms", what, e.what(), wait.count());
      sleepFor(stop, wait);
      backoff = std::min(backoff * 2, opts_.maxBackoff);
    } catch (const std::exception& e) {
      // Includes a handler or conversion that threw: log and relist, never die.
      if (stop.stop_requested()) break;
      setError(e.what());
      spdlog::error("informer {}: {}; relisting in {} ms", what, e.what(), backoff.count());
      sleepFor(stop, backoff);
      backoff = std::min(backoff * 2, opts_.maxBackoff);
      needList = true;
    }
  }
}

}  // namespace kube
