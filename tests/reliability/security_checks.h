// The security suite's checks as plain functions over text and manifests
// (docs/reliability.md "Security"): the operator's declared API requests
// (controllers/api-requests.txt) against the RBAC granted and the requests
// audited, and the search of captured logs for secrets. Kept free of the
// control plane so that each check is itself tested on planted faults.
#pragma once

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/base64.h"

namespace kube::testing::security {

// One permission: scope ("cluster" or "namespace", the operator's own),
// API group ("" for core), resource[/subresource], verb, and resource name
// ("-" for any).
struct Grant {
  std::string scope, group, resource, verb, name;
  auto operator<=>(const Grant&) const = default;
  std::string str() const {
    return scope + " " + (group.empty() ? "core" : group) + " " + resource + " " + verb +
           (name == "-" ? "" : " name=" + name);
  }
};

inline std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// controllers/api-requests.txt, one Grant per verb and name of each row.
// Throws std::runtime_error naming the line of a malformed row.
inline std::set<Grant> readRequestTable(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::set<Grant> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream row(line.substr(0, line.find("--")));
    std::string scope, group, resource, verbs, names, extra;
    row >> scope >> group >> resource >> verbs >> names;
    if (names.empty() || (row >> extra) || (scope != "cluster" && scope != "namespace") ||
        line.find("--") == std::string::npos)
      throw std::runtime_error(path + ":" + std::to_string(n) +
                               ": want SCOPE GROUP RESOURCE VERBS NAMES -- WHY");
    for (const auto& v : splitComma(verbs))
      for (const auto& name : names == "-" ? std::vector<std::string>{"-"} : splitComma(names))
        out.insert({scope, group == "core" ? "" : group, resource, v, name});
  }
  return out;
}

// What the install grants the ServiceAccount `account` of namespace `ns`:
// ClusterRoles bound cluster-wide (scope cluster) and Roles or ClusterRoles
// bound in `ns` (scope namespace). A binding in another namespace, or a
// rule with a non-resource URL, is returned as scope "elsewhere" so that the
// comparison reports it.
inline std::set<Grant> grantsOf(const std::vector<nlohmann::json>& docs, const std::string& account,
                                const std::string& ns) {
  auto role = [&](const std::string& kind, const std::string& name,
                  const std::string& roleNs) -> const nlohmann::json* {
    for (const auto& d : docs)
      if (d.value("kind", "") == kind && d["metadata"].value("name", "") == name &&
          (kind == "ClusterRole" || d["metadata"].value("namespace", "") == roleNs))
        return &d;
    return nullptr;
  };
  std::set<Grant> out;
  for (const auto& b : docs) {
    const std::string kind = b.value("kind", "");
    if (kind != "ClusterRoleBinding" && kind != "RoleBinding") continue;
    bool ours = false;
    for (const auto& s : b.value("subjects", nlohmann::json::array()))
      ours |= s.value("kind", "") == "ServiceAccount" && s.value("name", "") == account &&
              s.value("namespace", "") == ns;
    if (!ours) continue;
    const std::string bindingNs = b["metadata"].value("namespace", "");
    const std::string scope = kind == "ClusterRoleBinding" ? "cluster"
                              : bindingNs == ns            ? "namespace"
                                                           : "elsewhere:" + bindingNs;
    const nlohmann::json* r =
        role(b["roleRef"].value("kind", ""), b["roleRef"].value("name", ""), bindingNs);
    if (r == nullptr) continue;
    for (const auto& rule : r->value("rules", nlohmann::json::array())) {
      if (rule.contains("nonResourceURLs")) {
        out.insert({"elsewhere:nonResourceURLs", "", rule["nonResourceURLs"].dump(), "", "-"});
        continue;
      }
      std::vector<std::string> names;
      for (const auto& n : rule.value("resourceNames", nlohmann::json::array())) names.push_back(n);
      if (names.empty()) names.push_back("-");
      for (const auto& g : rule.value("apiGroups", nlohmann::json::array()))
        for (const auto& res : rule.value("resources", nlohmann::json::array()))
          for (const auto& v : rule.value("verbs", nlohmann::json::array()))
            for (const auto& name : names) out.insert({scope, g, res, v, name});
    }
  }
  return out;
}

// a minus b, as lines.
inline std::vector<std::string> missing(const std::set<Grant>& a, const std::set<Grant>& b) {
  std::vector<std::string> out;
  for (const auto& g : a)
    if (!b.contains(g)) out.push_back(g.str());
  return out;
}

// One request of the audit log (audit.k8s.io/v1 Event, stage
// ResponseComplete, or ResponseStarted for a watch) by `username`.
struct AuditedRequest {
  std::string verb, group, resource, namespace_, name, uri;
  int code = 0;
  std::string str() const { return std::to_string(code) + " " + verb + " " + uri; }
};

inline std::vector<AuditedRequest> auditedRequests(const std::string& auditLog,
                                                   const std::string& username) {
  std::vector<AuditedRequest> out;
  std::istringstream in(auditLog);
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line, nullptr, false);
    if (!e.is_object()) continue;
    // A watch is audited when its response starts (and again when it ends).
    const std::string stage = e.value("stage", "");
    if (stage != "ResponseComplete" &&
        !(stage == "ResponseStarted" && e.value("verb", "") == "watch"))
      continue;
    if (e["user"].value("username", "") != username) continue;
    AuditedRequest r;
    r.verb = e.value("verb", "");
    r.uri = e.value("requestURI", "");
    r.code = e.contains("responseStatus") ? e["responseStatus"].value("code", 0) : 0;
    if (e.contains("objectRef")) {
      const auto& o = e["objectRef"];
      r.group = o.value("apiGroup", "");
      r.resource = o.value("resource", "");
      if (o.contains("subresource")) r.resource += "/" + o.value("subresource", "");
      r.namespace_ = o.value("namespace", "");
      r.name = o.value("name", "");
    }
    out.push_back(r);
  }
  return out;
}

// Whether the table allows `r`: a row of its group, resource and verb, in
// scope (namespace rows: only in `operatorNs`) and of its name (a create
// names no object yet). A request without a resource (discovery: /api,
// /apis, /version) needs no grant of the operator's own.
inline bool allowedByTable(const std::set<Grant>& table, const AuditedRequest& r,
                           const std::string& operatorNs) {
  if (r.resource.empty())
    return r.uri.starts_with("/api") || r.uri.starts_with("/version") ||
           r.uri.starts_with("/openapi");
  for (const auto& g : table) {
    if (g.group != r.group || g.resource != r.resource || g.verb != r.verb) continue;
    if (g.scope == "namespace" && r.namespace_ != operatorNs) continue;
    if (g.name != "-" && g.name != r.name) continue;
    return true;
  }
  return false;
}

// The table's rows no audited request used (scope group resource verb).
inline std::vector<std::string> unexercised(const std::set<Grant>& table,
                                            const std::vector<AuditedRequest>& requests,
                                            const std::string& operatorNs) {
  std::vector<std::string> out;
  for (const auto& g : table) {
    const bool used = std::any_of(requests.begin(), requests.end(), [&](const AuditedRequest& r) {
      return allowedByTable({g}, r, operatorNs) && !r.resource.empty();
    });
    if (!used) out.push_back(g.str());
  }
  return out;
}

// The secrets found in `text`: each value as it is, and base64-encoded as a
// Secret's data or a JSON dump would carry it; plus any PEM private key
// ("PRIVATE KEY", as in BEGIN EC/RSA PRIVATE KEY). Returns "NAME (how)" per
// leak; empty when the text is clean.
inline std::vector<std::string> leaks(const std::string& text,
                                      const std::map<std::string, std::string>& secrets) {
  std::vector<std::string> out;
  for (const auto& [name, value] : secrets) {
    if (value.size() < 8) throw std::invalid_argument(name + ": too short to search for");
    if (text.find(value) != std::string::npos) out.push_back(name + " (as is)");
    if (text.find(base64Encode(value)) != std::string::npos) out.push_back(name + " (base64)");
  }
  if (text.find("PRIVATE KEY") != std::string::npos) out.push_back("a PEM private key");
  return out;
}

}  // namespace kube::testing::security
