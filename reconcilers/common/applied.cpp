#include "reconcilers/common/applied.h"

#include <cstdint>
#include <cstdio>

#include "api/well_known.h"
#include "runtime/json_pointer.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

}  // namespace

std::string fingerprintOf(const json& j) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : j.dump()) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

bool absentMatches(const json& v) {
  return v.is_null() || ((v.is_array() || v.is_object()) && v.empty());
}

// Calls `report` with each pointer where `have` does not hold `want`;
// stops when `report` returns false. Returns false when stopped.
template <typename Report>
bool walk(const json& want, const json& have, const std::string& at, Report&& report) {
  if (want.is_object()) {
    if (!have.is_object()) return report(at);
    for (const auto& [k, v] : want.items()) {
      const std::string here = at + kube::pointerOf({k});
      const auto it = have.find(k);
      if (it == have.end()) {
        if (absentMatches(v)) continue;
        if (!report(here)) return false;
        continue;
      }
      if (!walk(v, *it, here, report)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return report(at);
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (want[i].is_object() && have[i].is_object()) {
        if (!walk(want[i], have[i], at + "/" + std::to_string(i), report)) return false;
      } else if (!containedIn(want[i], have[i])) {
        return report(at);
      }
    }
    return true;
  }
  return want == have || report(at);
}

}  // namespace

void stamp(json& config) {
  if (json& a = config["metadata"]["annotations"]; a.is_object()) a.erase(api::kAppliedAnnotation);
  const std::string f = fingerprintOf(config);
  config["metadata"]["annotations"][api::kAppliedAnnotation] = f;
}

std::string stampOf(const json* obj) {
  if (obj == nullptr || !obj->is_object()) return "";
  const auto meta = obj->find("metadata");
  if (meta == obj->end() || !meta->is_object()) return "";
  const auto ann = meta->find("annotations");
  if (ann == meta->end() || !ann->is_object()) return "";
  const auto a = ann->find(api::kAppliedAnnotation);
  return a != ann->end() && a->is_string() ? a->get<std::string>() : "";
}

bool containedIn(const json& want, const json& have) {
  return walk(want, have, "", [](const std::string&) { return false; });
}

std::vector<std::string> notKept(const json& applied, const json& stored) {
  std::vector<std::string> out;
  walk(applied, stored, "", [&](const std::string& p) {
    out.push_back(p);
    return true;
  });
  return out;
}

json without(json config, const std::vector<std::string>& pointers) {
  for (const auto& p : pointers) {
    if (p.empty()) return json::object();
    kube::eraseValueAt(config, p);
  }
  return config;
}

std::string fieldPathOf(const std::string& pointer) {
  std::string out;
  for (const auto& t : kube::pointerTokens(pointer)) {
    if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos) {
      out += "[" + t + "]";
    } else {
      if (!out.empty()) out += '.';
      out += t;
    }
  }
  return out;
}

ApplyDecision decideApply(const json& desired, const json* observed, const AppliedRecord* record) {
  if (observed == nullptr) return {ApplyNeed::Create, {}};
  const std::string want = stampOf(&desired);
  const std::string rv = observed->value("metadata", json::object()).value("resourceVersion", "");
  const bool appliedThis = record != nullptr && record->stamp == want;
  // The cache still shows the object as it was when this very configuration
  // was applied: the apply is in, the cache behind.
  if (appliedThis && !rv.empty() && rv == record->decidedFrom) return {};
  if (stampOf(observed) != want) return {ApplyNeed::Change, {}};
  if (appliedThis) {
    // Nothing has written the object since the operator's own apply: what
    // differs is what the server did to it.
    if (!rv.empty() && rv == record->resourceVersion) return {};
    auto changed = notKept(without(desired, record->notKept), *observed);
    if (changed.empty()) return {};
    return {ApplyNeed::Restore, std::move(changed)};
  }
  auto changed = notKept(desired, *observed);
  if (changed.empty()) return {};
  return {ApplyNeed::Recheck, std::move(changed)};
}

}  // namespace kubec2::reconcilers
