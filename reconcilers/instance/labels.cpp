#include "reconcilers/instance/labels.h"

#include <string_view>

#include "api/well_known.h"
#include "runtime/finalizers.h"
#include "runtime/selector.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

bool reserved(std::string_view key) {
  return key.rfind(api::kReservedPrefix, 0) == 0;
}

}  // namespace

json instanceLabels(const v1::Instance& inst) {
  json l = json::object();
  l[api::kInstanceLabel] = inst.metadata.name;
  const auto sg = inst.metadata.labels.find(api::kScalingGroupLabel);
  if (sg != inst.metadata.labels.end()) l[api::kScalingGroupLabel] = sg->second;
  // A warm pool instance's pod and metrics say so, so the group's selector
  // (and HPA averaging its pods) leaves them out.
  const auto warm = inst.metadata.labels.find(api::kWarmPoolLabel);
  if (warm != inst.metadata.labels.end()) l[api::kWarmPoolLabel] = warm->second;
  l[api::kManagedByLabel] = api::kManagedByValue;
  return l;
}

json vmLabels(const v1::Instance& inst, const v1::LaunchSpec& launch) {
  json labels = json::object();
  if (launch.tags)
    for (const auto& [k, v] : *launch.tags)
      if (!reserved(k) && kube::labelKeyError(k).empty() && kube::labelValueError(v).empty())
        labels[k] = v;
  // The Instance's own labels, so that instanceSelector sources and load
  // balancers select its pod by them (api: SecurityGroupSource).
  for (const auto& [k, v] : inst.metadata.labels)
    if (!reserved(k)) labels[k] = v;
  const json own = instanceLabels(inst);  // a named object: items() of a temporary dangles
  for (const auto& [k, v] : own.items()) labels[k] = v;
  return labels;
}

json instanceOwnerReference(const v1::Instance& inst) {
  return kube::controllerOwnerRef(api::kApiVersion, "Instance", inst.metadata.name,
                                  inst.metadata.uid);
}

}  // namespace kubec2::reconcilers
