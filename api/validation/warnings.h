// Warnings for values the operator accepts but cannot use now: an instance
// type its catalog does not know, a zone no node carries, a LaunchTemplate
// that does not exist (yet). Each is accepted by design (the instance type
// ConfigMap, a new node or the template may come later) and reported in
// status; the warning makes kubectl say so at once ("Warning: ..."), naming
// the closest known values. Kubernetes asks for warnings of at most 120
// characters where possible (the API server may cut them at 256), so the
// known values are summarized, not listed whole.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "api/validation/lookups.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {

// `type` at `path` unknown to the catalog: the family's sizes when the
// family (the part before the dot) is known ("m5 has m5.large ...
// m5.24xlarge"), with the nearest size when a typo is likely; otherwise the
// nearest names by edit distance.
void warnInstanceType(const std::string& path, const std::string& type,
                      const AdmissionLookups& lookups, Warnings& out);
// `zone` at `path` carried by no node's topology.kubernetes.io/zone label:
// the zones nodes do carry, nearest first.
void warnZone(const std::string& path, const std::string& zone, const AdmissionLookups& lookups,
              Warnings& out);
// LaunchTemplate `name` (at `path`) missing from namespace `ns`.
void warnLaunchTemplate(const std::string& path, const std::string& ns, const std::string& name,
                        const AdmissionLookups& lookups, Warnings& out);

// Levenshtein distance (insertions, deletions, substitutions of bytes).
std::size_t editDistance(std::string_view a, std::string_view b);

}  // namespace kubec2::api::validation
