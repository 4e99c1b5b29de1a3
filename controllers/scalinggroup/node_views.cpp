#include "controllers/scalinggroup/node_views.h"

namespace kubec2::controllers {

namespace rec = kubec2::reconcilers;

rec::NodeView nodeViewOf(const kube::RawObject& node) {
  rec::NodeView v;
  const auto zone = node.metadata.labels.find("topology.kubernetes.io/zone");
  if (zone != node.metadata.labels.end()) v.zone = zone->second;
  const nlohmann::json n = node.toJson();
  bool ready = false;
  if (const auto* status = kube::jsonAt(&n, {"status"});
      status && status->contains("conditions") && (*status)["conditions"].is_array())
    for (const auto& c : (*status)["conditions"])
      if (c.is_object() && c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
  const auto* spec = kube::jsonAt(&n, {"spec"});
  const bool cordoned = spec && spec->value("unschedulable", false);
  v.schedulable = ready && !cordoned;
  return v;
}

bool NodeViews::put(const std::string& name, const rec::NodeView& view) {
  std::lock_guard l(mu_);
  auto [it, added] = views_.try_emplace(name, view);
  if (added) return true;
  if (it->second.zone == view.zone && it->second.schedulable == view.schedulable) return false;
  it->second = view;
  return true;
}

bool NodeViews::erase(const std::string& name) {
  std::lock_guard l(mu_);
  return views_.erase(name) > 0;
}

std::vector<rec::NodeView> NodeViews::list() const {
  std::lock_guard l(mu_);
  std::vector<rec::NodeView> out;
  out.reserve(views_.size());
  for (const auto& [name, v] : views_) out.push_back(v);
  return out;
}

}  // namespace kubec2::controllers
