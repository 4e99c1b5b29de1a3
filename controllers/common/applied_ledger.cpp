#include "controllers/common/applied_ledger.h"

namespace kubec2::controllers {

using nlohmann::json;

std::string AppliedLedger::key(const kube::Resource& r, const std::string& ns,
                               const std::string& name) {
  return r.groupResource() + "|" + ns + "|" + name;
}

void AppliedLedger::record(const kube::Resource& r, const json& config, const json& stored,
                           const std::string& decidedFrom) {
  const json meta = stored.value("metadata", json::object());
  reconcilers::AppliedRecord rec;
  rec.stamp = reconcilers::stampOf(&config);
  rec.resourceVersion = meta.value("resourceVersion", "");
  rec.notKept = reconcilers::notKept(config, stored);
  rec.decidedFrom = decidedFrom;
  std::lock_guard l(mu_);
  records_[key(r, meta.value("namespace", ""), meta.value("name", ""))] = std::move(rec);
}

std::optional<reconcilers::AppliedRecord> AppliedLedger::find(const kube::Resource& r,
                                                              const std::string& ns,
                                                              const std::string& name) const {
  std::lock_guard l(mu_);
  const auto it = records_.find(key(r, ns, name));
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

void AppliedLedger::forget(const kube::Resource& r, const std::string& ns,
                           const std::string& name) {
  std::lock_guard l(mu_);
  records_.erase(key(r, ns, name));
}

std::size_t AppliedLedger::size() const {
  std::lock_guard l(mu_);
  return records_.size();
}

}  // namespace kubec2::controllers
