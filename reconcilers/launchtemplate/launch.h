// What an Instance launches with: its LaunchTemplate's version (by number,
// $Latest or $Default) overlaid with the Instance's inline launch fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

struct LaunchResolution {
  v1::LaunchSpec spec;                          // the effective launch fields
  std::optional<std::int64_t> templateVersion;  // the concrete version, when from a template
  // Empty when resolved; else a CamelCase reason (LaunchTemplateNotFound,
  // LaunchTemplateVersionNotFound, ImageMissing, InstanceTypeMissing) and a
  // message saying exactly what is missing, e.g.
  // `LaunchTemplate "web" has no version 7 (latest is 3)`.
  std::string problemReason;
  std::string problemMessage;
  bool ok() const { return problemReason.empty(); }
};

// `templ` is the Instance's LaunchTemplate from the cache (nullptr when it
// does not exist or the Instance has no launchTemplateRef).
//
// The version: the one recorded in status.launchTemplateVersion when there
// is one (an Instance never moves to another version once launched), else
// the ref's number, or for $Latest the number of versions, for $Default
// (and no version) spec.defaultVersion (1 when unset).
//
// Overlay: each inline field the Instance sets replaces the template's field
// wholly, except tags, which are merged key by key (the Instance's win).
// After the overlay, image and instanceType must be set.
LaunchResolution resolveLaunch(const v1::Instance& instance, const v1::LaunchTemplate* templ);

}  // namespace kubec2::reconcilers
