#include "api/validation/common_rules.h"

#include <string_view>

namespace kubec2::api::validation {
namespace {

bool isReferenceKey(const std::string& key) {
  auto endsWith = [&](std::string_view suffix) {
    return key.size() >= suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return endsWith("Ref") || endsWith("Refs") || key == "pvc" || key == "certificate" ||
         key == "keyPair";
}

void checkReferenceNamespace(Context& c, const std::string& path, const json& ref) {
  auto it = ref.find("namespace");
  if (it == ref.end() || it->is_null()) return;
  if (it->is_string() && (it->get<std::string>().empty() || *it == c.namespace_)) return;
  c.errs.push_back(
      invalid(path + ".namespace", *it,
              c.namespace_.empty()
                  ? "must be absent: kubec2 objects refer only to objects of their own namespace"
                  : "must be absent or the object's own namespace (" + c.namespace_ +
                        "): kubec2 objects refer only to objects of their own namespace"));
}

void walk(Context& c, const json& j, const std::string& path, int depth) {
  if (depth > 32) return;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      const std::string p = path + "." + key;
      if (isReferenceKey(key)) {
        if (value.is_object()) checkReferenceNamespace(c, p, value);
        if (value.is_array())
          for (size_t i = 0; i < value.size(); ++i)
            if (value[i].is_object()) checkReferenceNamespace(c, at(p, i), value[i]);
      }
      walk(c, value, p, depth + 1);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) walk(c, j[i], at(path, i), depth + 1);
  }
}

}  // namespace

void checkSelector(Context& c, const std::string& path, const v1alpha1::LabelSelector& s) {
  if (!s.matchExpressions) return;
  for (size_t i = 0; i < s.matchExpressions->size(); ++i) {
    const auto& r = (*s.matchExpressions)[i];
    const std::string p = at(path + ".matchExpressions", i) + ".values";
    const bool hasValues = r.values && !r.values->empty();
    if ((r.operator_ == "In" || r.operator_ == "NotIn") && !hasValues)
      c.errs.push_back(required(p, "must be specified when `operator` is 'In' or 'NotIn'"));
    if ((r.operator_ == "Exists" || r.operator_ == "DoesNotExist") && hasValues)
      c.errs.push_back(
          forbidden(p, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
  }
}

void checkReferenceNamespaces(Context& c, const json& j, const std::string& path) {
  walk(c, j, path, 0);
}

}  // namespace kubec2::api::validation
