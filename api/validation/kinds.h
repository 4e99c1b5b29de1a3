// The kinds of compute.kubec2.io/v1alpha1, listed once: each with its
// resource (group, version, plural, kind, generated from the declarations
// in api/v1alpha1/) and its validator. The webhook asks this table which
// reviews are its own, and api/validation.h dispatches through it, so
// adding a kind is a validator file of this folder and a row in kinds.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "api/v1alpha1/types.h"
#include "api/validation/validator.h"

namespace kubec2::api {

struct ComputeKind {
  const kube::Resource& resource;  // .kind: Instance; .resource: instances
  const validation::KindValidator& validator;
};

// The six kinds, in the order the messages list them.
std::span<const ComputeKind> computeKinds();
// The kind of that name (Instance), or nullptr.
const ComputeKind* findComputeKind(std::string_view kind);
// The kind of that group and plural (compute.kubec2.io, instances), or
// nullptr: how a subresource's review (whose request.kind is another kind,
// such as autoscaling/v1 Scale) is traced to its object's kind.
const ComputeKind* findComputeResource(std::string_view group, std::string_view plural);
// "Instance, LaunchTemplate, ScalingGroup, LoadBalancer, ElasticIP or Snapshot".
std::string computeKindNames();

}  // namespace kubec2::api
