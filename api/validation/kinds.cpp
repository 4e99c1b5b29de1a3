#include "api/validation/kinds.h"

#include <array>

#include "api/v1alpha1/types.h"

namespace kubec2::api {
namespace validation {

// One per kind file of this folder.
const KindValidator& instanceValidator();
const KindValidator& launchTemplateValidator();
const KindValidator& scalingGroupValidator();
const KindValidator& loadBalancerValidator();
const KindValidator& elasticIPValidator();
const KindValidator& snapshotValidator();

}  // namespace validation

std::span<const ComputeKind> computeKinds() {
  static const std::array<ComputeKind, 6> kinds = {{
      {v1alpha1::Instance::resource(), validation::instanceValidator()},
      {v1alpha1::LaunchTemplate::resource(), validation::launchTemplateValidator()},
      {v1alpha1::ScalingGroup::resource(), validation::scalingGroupValidator()},
      {v1alpha1::LoadBalancer::resource(), validation::loadBalancerValidator()},
      {v1alpha1::ElasticIP::resource(), validation::elasticIPValidator()},
      {v1alpha1::Snapshot::resource(), validation::snapshotValidator()},
  }};
  return kinds;
}

const ComputeKind* findComputeKind(std::string_view kind) {
  for (const auto& k : computeKinds())
    if (k.resource.kind == kind) return &k;
  return nullptr;
}

const ComputeKind* findComputeResource(std::string_view group, std::string_view plural) {
  for (const auto& k : computeKinds())
    if (k.resource.group == group && k.resource.resource == plural) return &k;
  return nullptr;
}

std::string computeKindNames() {
  const auto kinds = computeKinds();
  std::string out;
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) out += i + 1 == kinds.size() ? " or " : ", ";
    out += kinds[i].resource.kind;
  }
  return out;
}

}  // namespace kubec2::api
