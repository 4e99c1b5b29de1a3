// Kubernetes resource quantities ("512Mi", "1G", "250m", "12884901888"), as
// the API server writes them (k8s.io/apimachinery resource.Quantity's
// suffixes: decimal SI m k M G T P E, binary SI Ki Mi Gi Ti Pi Ei, or
// none). Exponent forms ("1e3") are read by std::stod as the number
// before any suffix. Read to a double: exact for sizes up to 2^53 bytes.
#pragma once

#include <optional>
#include <string>

namespace kube {

// The quantity's value in base units (bytes for storage); nullopt when
// malformed or not finite.
std::optional<double> parseQuantity(const std::string& q);

}  // namespace kube
