// Read-your-writes for status: the status a controller last wrote to an
// object, until the informer delivers that write. A reconcile that runs
// before (woken by another object's event) would otherwise see the old
// status, write the new one again and repeat its Event. An entry holds for
// the resourceVersions the object had before the write (the observed one
// and those of the operator's own writes in the same plan); any other
// version in the cache is newer, and the entry is dropped. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace kubec2::controllers {

class StatusCache {
 public:
  // `key` is namespace/name; `basedOn` the versions the write was made over.
  void remember(const std::string& key, std::set<std::string> basedOn, nlohmann::json status);
  // The remembered status when the cache's object is at one of those
  // versions; otherwise nullopt (and the entry goes).
  std::optional<nlohmann::json> lookup(const std::string& key, const std::string& resourceVersion);
  void forget(const std::string& key);

 private:
  struct Entry {
    std::set<std::string> basedOn;
    nlohmann::json status;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace kubec2::controllers
