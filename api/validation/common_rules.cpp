#include "api/validation/common_rules.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "api/validation/json_helpers.h"

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

namespace {

// A label's name part or value: at most 63 characters, alphanumerics, '-',
// '_' and '.', starting and ending with an alphanumeric (Kubernetes'
// IsQualifiedName and IsValidLabelValue).
bool labelNamePart(std::string_view s) {
  auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char ch) { return alnum(ch) || ch == '-' || ch == '_' || ch == '.'; });
}

// A DNS subdomain: lower-case alphanumerics, '-' and '.', at most 253.
bool dnsSubdomain(std::string_view s) {
  auto ok = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (s.empty() || s.size() > 253 || !ok(s.front()) || !ok(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char ch) { return ok(ch) || ch == '-' || ch == '.'; });
}

constexpr const char* kLabelRule =
    "at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a "
    "letter or digit";

void checkLabelKey(Context& c, const std::string& path, const std::string& key) {
  const auto slash = key.find('/');
  const std::string_view prefix =
      slash == std::string::npos ? std::string_view{} : std::string_view(key).substr(0, slash);
  const std::string_view name =
      slash == std::string::npos ? std::string_view(key) : std::string_view(key).substr(slash + 1);
  if (slash != std::string::npos && !dnsSubdomain(prefix))
    c.errs.push_back(invalid(path, key,
                             "the prefix before '/' must be a DNS subdomain (lower-case letters, "
                             "digits, '-' and '.'), such as compute.kubec2.io"));
  else if (!labelNamePart(name))
    c.errs.push_back(invalid(path, key, std::string("a label key's name must be ") + kLabelRule));
}

void checkLabelValue(Context& c, const std::string& path, const std::string& value) {
  if (!value.empty() && !labelNamePart(value))
    c.errs.push_back(
        invalid(path, value, std::string("a label value must be empty or ") + kLabelRule));
}

}  // namespace

void checkSelector(Context& c, const std::string& path, const v1alpha1::LabelSelector& s) {
  if (s.matchLabels)
    for (const auto& [key, value] : *s.matchLabels) {
      checkLabelKey(c, path + ".matchLabels", key);
      checkLabelValue(c, path + ".matchLabels[" + key + "]", value);
    }
  if (!s.matchExpressions) return;
  for (size_t i = 0; i < s.matchExpressions->size(); ++i) {
    const auto& r = (*s.matchExpressions)[i];
    checkLabelKey(c, at(path + ".matchExpressions", i) + ".key", r.key);
    if (r.values)
      for (size_t k = 0; k < r.values->size(); ++k)
        checkLabelValue(c, at(at(path + ".matchExpressions", i) + ".values", k), (*r.values)[k]);
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

void checkServiceName(Context& c, const std::string& kind) {
  const std::string name = metadataString(c.root, "name");
  auto isDns1035Label = [](const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    if (s.front() < 'a' || s.front() > 'z') return false;
    if (s.back() == '-') return false;
    return std::all_of(s.begin(), s.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    });
  };
  if (!name.empty() && !isDns1035Label(name))
    c.errs.push_back(invalid(
        "metadata.name", name,
        "must be a DNS-1035 label (at most 63 characters: lower-case "
        "letters, digits and '-', starting with a letter and ending "
        "with a letter or digit): " +
            std::string(std::string_view("AEIOU").find(kind.front()) != std::string_view::npos
                            ? "an "
                            : "a ") +
            kind + "'s Service has its name"));
}

}  // namespace kubec2::api::validation
