// What the operator's last server-side apply of each object left on the
// server (reconcilers/common/applied.h: AppliedRecord): the fingerprint
// applied, the resourceVersion right after, and the fields the server did
// not keep. Kept in memory: after a restart each object that differs from
// its configuration is applied once more to learn it again (ApplyNeed::
// Recheck). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "reconcilers/common/applied.h"
#include "runtime/resource.h"

namespace kubec2::controllers {

class AppliedLedger {
 public:
  // After an apply of `config`, decided on version `decidedFrom`, answered with `stored`.
  void record(const kube::Resource& r, const nlohmann::json& config, const nlohmann::json& stored,
              const std::string& decidedFrom);
  std::optional<reconcilers::AppliedRecord> find(const kube::Resource& r, const std::string& ns,
                                                 const std::string& name) const;
  void forget(const kube::Resource& r, const std::string& ns, const std::string& name);
  std::size_t size() const;

 private:
  static std::string key(const kube::Resource& r, const std::string& ns, const std::string& name);
  mutable std::mutex mu_;
  std::map<std::string, reconcilers::AppliedRecord> records_;
};

}  // namespace kubec2::controllers
