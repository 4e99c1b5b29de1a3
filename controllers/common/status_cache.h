// Read-your-writes for status: the status a controller last wrote to an
// object, until the informer delivers that write. A reconcile that runs
// before (woken by another object's event) would otherwise see the old
// status, write the new one again and repeat its Event. The written status
// stands in for the cached one while the cache still shows the status it
// replaced (whatever else changed: a spec edit may land in between); once
// the cache shows the written status, or any other, the entry goes. Writes
// in a row chain: a second write made over the first's overlay stands in
// for both older statuses. No resourceVersion arithmetic: they are opaque.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::controllers {

class StatusCache {
 public:
  // `key` is namespace/name; `replaced` the status the write replaced
  // (null when there was none), `written` the new one.
  void remember(const std::string& key, nlohmann::json replaced, nlohmann::json written);
  // The written status when the cache's object (its status `cached`, null
  // when none) still shows the replaced one; otherwise nullopt, and the
  // entry goes.
  std::optional<nlohmann::json> lookup(const std::string& key, const nlohmann::json& cached);
  void forget(const std::string& key);
  // Whether a write to `key` is remembered: without one, lookup() answers
  // nullopt whatever the cached status (callers skip turning it into JSON).
  bool holds(const std::string& key);

 private:
  struct Entry {
    std::vector<nlohmann::json> replaced;  // the statuses the writes replaced, oldest first
    nlohmann::json written;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace kubec2::controllers
