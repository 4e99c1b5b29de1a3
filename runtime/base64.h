// Standard base64 (RFC 4648, with padding, no line breaks), as Secrets'
// data, caBundle and JSON patches in AdmissionReviews carry bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kube {

std::string base64Encode(std::string_view in);
// nullopt when `in` is not base64 (wrong length, a character outside the
// alphabet, padding in the middle).
std::optional<std::string> base64Decode(std::string_view in);

}  // namespace kube
