// The entry points: which kind's validator a review goes to, and what
// every kind shares (the object's shape, spec-only updates, references).
#include "api/validation.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "api/validation/common_rules.h"
#include "api/validation/json_helpers.h"
#include "api/validation/kinds.h"

namespace kubec2::api {
namespace {

using namespace validation;

Errors validateUnchecked(const AdmissionInput& in, const TimeZoneExists& tz,
                         const AdmissionLookups& lookups) {
  // A subresource's object (a Scale) may come without metadata: the
  // request names the object then.
  std::string ns = metadataString(in.object, "namespace");
  std::string name = metadataString(in.object, "name");
  if (!in.subResource.empty()) {
    if (ns.empty()) ns = in.namespace_;
    if (name.empty()) name = in.name;
  }
  Context c{in.object, ns, name, tz, lookups, {}};
  const ComputeKind* kind = findComputeKind(in.kind);
  if (kind == nullptr) {
    c.errs.push_back(invalid("kind", in.kind, "must be " + computeKindNames()));
    return c.errs;
  }
  const KindValidator& v = kind->validator;
  if (in.operation == Operation::Delete) {
    if (in.subResource.empty()) v.validateDelete(c, in.oldObject);
    return c.errs;
  }
  if (!in.object.is_object()) {
    c.errs.push_back(
        invalid("", in.object, "must be a JSON object: a compute.kubec2.io/v1alpha1 " + in.kind));
    return c.errs;
  }
  if (!in.subResource.empty()) {
    if (in.subResource == "scale" && in.operation == Operation::Update)
      v.validateScale(c, in.object);
    return c.errs;
  }
  const auto specIt = in.object.find("spec");
  if (specIt == in.object.end() || specIt->is_null()) {
    c.errs.push_back(required("spec", ""));
    return c.errs;
  }
  const json* oldSpec = nullptr;
  if (in.operation == Operation::Update && in.oldObject.is_object())
    if (auto it = in.oldObject.find("spec"); it != in.oldObject.end() && !it->is_null())
      oldSpec = &*it;
  // An update that leaves spec alone (metadata, finalizers, labels) is never
  // refused, so objects admitted under older rules can still be finalized.
  if (oldSpec != nullptr && *oldSpec == *specIt) return c.errs;
  if (in.operation == Operation::Create)
    v.validateCreate(c, *specIt);
  else
    v.validateUpdate(c, *specIt, oldSpec);
  checkReferenceNamespaces(c, *specIt, "spec");
  return c.errs;
}

// The warnings of one object's spec; none when it has no spec object.
Warnings warningsOf(const KindValidator& v, const json& object, const AdmissionLookups& lookups) {
  Warnings out;
  const json* spec = member(object, "spec");
  if (spec != nullptr && spec->is_object())
    v.warnings(*spec, metadataString(object, "namespace"), lookups, out);
  return out;
}

}  // namespace

bool timeZoneExistsInZoneinfo(const std::string& name) {
  // A relative path of plain components only: no way out of the directory.
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/') return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '/' && ch != '_' && ch != '-' &&
        ch != '+')
      return false;
  if (name.find("//") != std::string::npos) return false;
  const char* dir = std::getenv("TZDIR");
  const std::filesystem::path file =
      std::filesystem::path(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo") / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && std::string_view(magic, 4) == "TZif";
}

std::vector<FieldError> validate(const AdmissionInput& in, const TimeZoneExists& tz,
                                 const AdmissionLookups& lookups) {
  try {
    return validateUnchecked(in, tz ? tz : TimeZoneExists(timeZoneExistsInZoneinfo), lookups);
  } catch (const std::exception& e) {
    return {invalid("", nullptr, std::string("could not be validated: ") + e.what())};
  } catch (...) {
    return {invalid("", nullptr, "could not be validated")};
  }
}

json defaultsPatch(const std::string& kind, const json& object) {
  json patch = json::array();
  try {
    const ComputeKind* k = findComputeKind(kind);
    const json* spec = member(object, "spec");
    if (k == nullptr || spec == nullptr || !spec->is_object()) return patch;
    k->validator.defaults(*spec, patch);
  } catch (...) {
    return json::array();  // defaults are a convenience: never fail the request over them
  }
  return patch;
}

std::vector<std::string> warnings(const AdmissionInput& in, const AdmissionLookups& lookups) {
  try {
    const ComputeKind* k = findComputeKind(in.kind);
    if (k == nullptr || !in.subResource.empty() || in.operation == Operation::Delete) return {};
    Warnings now = warningsOf(k->validator, in.object, lookups);
    if (in.operation == Operation::Update && !now.empty()) {
      const Warnings before = warningsOf(k->validator, in.oldObject, lookups);
      std::erase_if(now, [&](const std::string& w) {
        return std::find(before.begin(), before.end(), w) != before.end();
      });
    }
    return now;
  } catch (...) {
    return {};  // warnings are advice: never fail the request over them
  }
}

}  // namespace kubec2::api
