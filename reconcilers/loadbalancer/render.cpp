#include "reconcilers/loadbalancer/render.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>

#include "api/well_known.h"
#include "runtime/finalizers.h"

namespace kubec2::reconcilers::loadbalancer {
namespace {

using nlohmann::json;

// discovery.k8s.io allows 1000 endpoints per slice; the EndpointSlice
// controller's default (--max-endpoints-per-slice) is 100, kept here so a
// change of one target rewrites at most 100 endpoints.
constexpr std::size_t kMaxEndpointsPerSlice = 100;
constexpr std::size_t kMaxLabelLength = 63;       // DNS-1123 label (Service port names)
constexpr std::size_t kMaxSubdomainLength = 253;  // DNS-1123 subdomain (object names)
constexpr std::int64_t kMaxPort = 65535;

// FNV-1a, 32 bits: a stable, platform-independent hash for name suffixes
// (std::hash may differ between standard libraries).
std::uint32_t fnv1a(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

std::string hexOf(std::uint32_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kHex[v & 0xf];
  return out;
}

// `name` when it fits in `max` characters; else its first characters (no
// trailing '-' or '.', which DNS names cannot end a label with), "-" and a
// hash of the whole name, `max` characters at most. Deterministic, and two
// long names that share their beginning still differ.
std::string bounded(const std::string& name, std::size_t max, int hashDigits) {
  if (name.size() <= max) return name;
  std::string head = name.substr(0, max - 1 - static_cast<std::size_t>(hashDigits));
  while (!head.empty() && (head.back() == '-' || head.back() == '.')) head.pop_back();
  return head + "-" + hexOf(fnv1a(name), hashDigits);
}

bool isApplication(const v1::LoadBalancerSpec& spec) {
  return spec.type.value_or("application") == "application";
}

bool isHttp(const v1::Listener& l) {
  return l.protocol == "HTTP" || l.protocol == "HTTPS";
}

std::string serviceProtocolOf(const std::string& protocol) {
  return protocol == "UDP" ? "UDP" : "TCP";
}

const v1::TargetGroup* findGroup(const v1::LoadBalancerSpec& spec, const std::string& name) {
  for (const v1::TargetGroup& g : spec.targetGroups)
    if (g.name == name) return &g;
  return nullptr;
}

std::vector<const v1::Listener*> listenersByPort(const v1::LoadBalancerSpec& spec) {
  std::vector<const v1::Listener*> out;
  for (const v1::Listener& l : spec.listeners) out.push_back(&l);
  std::stable_sort(out.begin(), out.end(),
                   [](const v1::Listener* a, const v1::Listener* b) { return a->port < b->port; });
  return out;
}

std::vector<const v1::ListenerRule*> rulesByPriority(const v1::Listener& l) {
  std::vector<const v1::ListenerRule*> out;
  if (l.rules)
    for (const v1::ListenerRule& r : *l.rules) out.push_back(&r);
  std::stable_sort(out.begin(), out.end(),
                   [](const v1::ListenerRule* a, const v1::ListenerRule* b) {
                     return a->priority < b->priority;
                   });
  return out;
}

struct ServicePort {
  std::string name;
  std::int64_t port = 0;
  std::string protocol;
  std::int64_t targetPort = 0;
  std::string targetGroup;
};

std::string targetGroupPortName(const std::string& group) {
  return bounded("tg-" + group, kMaxLabelLength, 6);
}

// The Service's ports (see renderLoadBalancer in the header).
std::vector<ServicePort> servicePortsOf(const v1::LoadBalancerSpec& spec) {
  std::vector<ServicePort> ports;
  std::map<std::string, std::set<std::int64_t>> taken;  // protocol -> port numbers
  std::set<std::string> defaults;
  for (const v1::Listener* l : listenersByPort(spec)) {
    const v1::TargetGroup* g = findGroup(spec, l->defaultTargetGroup);
    // An unknown group is refused by the webhook; the port then still
    // exists (clients see the listener), leading to no endpoints.
    ServicePort p{"listener-" + std::to_string(l->port), l->port, serviceProtocolOf(l->protocol),
                  g ? g->port : l->port, l->defaultTargetGroup};
    taken[p.protocol].insert(p.port);
    defaults.insert(l->defaultTargetGroup);
    ports.push_back(std::move(p));
  }
  std::set<std::string> ruled;
  for (const v1::Listener& l : spec.listeners)
    if (l.rules)
      for (const v1::ListenerRule& r : *l.rules) ruled.insert(r.targetGroup);
  for (const v1::TargetGroup& g : spec.targetGroups) {
    if (!ruled.count(g.name) || defaults.count(g.name)) continue;
    // Rules live on HTTP and HTTPS listeners only: the port is TCP.
    std::set<std::int64_t>& used = taken["TCP"];
    std::int64_t number = g.port;  // 100 listeners and groups at most: one is free
    while (used.count(number)) number = number >= kMaxPort ? 1 : number + 1;
    used.insert(number);
    ports.push_back(ServicePort{targetGroupPortName(g.name), number, "TCP", g.port, g.name});
  }
  return ports;
}

// IANA_SVC_NAME, the Ingress API's rule for a backend's port name
// (k8s.io/apimachinery validation.IsValidPortName): 1 to 15 characters of
// a-z, 0-9 and '-', at least one letter, no '-' at either end nor "--".
bool isValidIngressPortName(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string::npos)
    return false;
  bool letter = false;
  for (char c : name) {
    if (c >= 'a' && c <= 'z')
      letter = true;
    else if (!(c >= '0' && c <= '9') && c != '-')
      return false;
  }
  return letter;
}

json labelsOf(const v1::LoadBalancer& lb) {
  return {{api::kManagedByLabel, api::kManagedByValue},
          {api::kLoadBalancerLabel, lb.metadata.name}};
}

json metadataOf(const v1::LoadBalancer& lb, const std::string& name, json labels) {
  return {{"name", name},
          {"namespace", lb.metadata.namespace_},
          {"labels", std::move(labels)},
          {"ownerReferences",
           json::array({kube::controllerOwnerRef(api::kApiVersion, "LoadBalancer", lb.metadata.name,
                                                 lb.metadata.uid)})}};
}

json serviceOf(const v1::LoadBalancer& lb, const std::vector<ServicePort>& ports) {
  json jports = json::array();
  for (const ServicePort& p : ports)
    jports.push_back({{"name", p.name},
                      {"port", p.port},
                      {"protocol", p.protocol},
                      {"targetPort", p.targetPort}});
  const bool external = lb.spec.scheme.value_or("internal") == "internet-facing";
  return {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", metadataOf(lb, lb.metadata.name, labelsOf(lb))},
      {"spec", {{"type", external ? "LoadBalancer" : "ClusterIP"}, {"ports", std::move(jports)}}}};
}

// --- EndpointSlices ------------------------------------------------------------

std::string slicePrefix(const std::string& lb, const std::string& group, bool ipv6) {
  // A dot between them: neither a LoadBalancer name (a Service name, a
  // DNS label) nor a target group name has one, so two load balancers'
  // slices never share a name (with "-", LB a-b's group c and LB a's group
  // b-c would).
  const std::string base = lb + "." + group;
  // Room for the family infix and a slice number of up to 6 digits.
  return bounded(base, kMaxSubdomainLength - 12, 8) + (ipv6 ? ".ipv6-" : "-");
}

// The slice number of `name` when it is one of this group's slices of
// this family, from its name.
std::optional<std::size_t> sliceNumber(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 6 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  return static_cast<std::size_t>(std::stoul(digits));
}

// Stable packing of one family's endpoints (sorted by instance) into
// numbered slices: slice number -> endpoints, only non-empty slices.
std::map<std::size_t, std::vector<const Endpoint*>> pack(
    const std::vector<const Endpoint*>& endpoints,
    const std::map<std::string, std::vector<std::string>>& currentSlices,
    const std::string& prefix) {
  std::map<std::string, std::size_t> current;  // instance -> its slice's number (lowest)
  for (const auto& [name, members] : currentSlices) {
    const auto number = sliceNumber(name, prefix);
    if (!number) continue;
    for (const std::string& m : members) {
      auto [it, inserted] = current.emplace(m, *number);
      if (!inserted) it->second = std::min(it->second, *number);
    }
  }
  std::map<std::size_t, std::vector<const Endpoint*>> slices;
  std::vector<const Endpoint*> newcomers;
  for (const Endpoint* e : endpoints) {
    auto it = current.find(e->instance);
    if (it != current.end() && slices[it->second].size() < kMaxEndpointsPerSlice)
      slices[it->second].push_back(e);
    else
      newcomers.push_back(e);
  }
  // Slices only fill, so the lowest slice with room only moves up.
  std::size_t number = 0;
  for (const Endpoint* e : newcomers) {
    while (slices[number].size() >= kMaxEndpointsPerSlice) ++number;
    slices[number].push_back(e);
  }
  std::erase_if(slices, [](const auto& kv) { return kv.second.empty(); });
  for (auto& [n, members] : slices)
    std::sort(members.begin(), members.end(),
              [](const Endpoint* a, const Endpoint* b) { return a->instance < b->instance; });
  return slices;
}

json sliceJson(const v1::LoadBalancer& lb, const std::string& group, bool ipv6, std::size_t number,
               const std::vector<const Endpoint*>& members, const json& ports,
               DiscoveryVersion version) {
  json labels = labelsOf(lb);
  labels["kubernetes.io/service-name"] = lb.metadata.name;
  labels["endpointslice.kubernetes.io/managed-by"] = api::kEndpointSliceManagedByValue;
  labels[api::kTargetGroupLabel] = group;
  json endpoints = json::array();
  for (const Endpoint* e : members)
    endpoints.push_back(endpointJson(*e, lb.metadata.namespace_, version));
  return {{"apiVersion", discoveryApiVersion(version)},
          {"kind", "EndpointSlice"},
          {"metadata", metadataOf(lb, endpointSliceName(lb.metadata.name, group, ipv6, number),
                                  std::move(labels))},
          {"addressType", ipv6 ? "IPv6" : "IPv4"},
          {"endpoints", std::move(endpoints)},
          {"ports", ports}};
}

// One target group's slices, appended to `out`.
void groupSlices(const RenderInput& in, const std::string& group, const json& jports,
                 const TargetGroupEndpoints& given, std::vector<json>& out) {
  const v1::LoadBalancer& lb = *in.loadBalancer;
  std::vector<const Endpoint*> v4, v6;
  std::set<std::string> seen;
  for (const Endpoint& e : given.endpoints) {
    if (e.ip.empty() || !seen.insert(e.instance).second) continue;
    (e.ip.find(':') == std::string::npos ? v4 : v6).push_back(&e);
  }
  for (auto* family : {&v4, &v6})
    std::sort(family->begin(), family->end(),
              [](const Endpoint* a, const Endpoint* b) { return a->instance < b->instance; });

  auto s4 = pack(v4, given.currentSlices, slicePrefix(lb.metadata.name, group, false));
  auto s6 = pack(v6, given.currentSlices, slicePrefix(lb.metadata.name, group, true));
  if (s4.empty() && s6.empty()) s4[0] = {};  // the group shows, empty
  for (const auto& [n, members] : s4)
    out.push_back(sliceJson(lb, group, false, n, members, jports, in.discovery));
  for (const auto& [n, members] : s6)
    out.push_back(sliceJson(lb, group, true, n, members, jports, in.discovery));
}

std::vector<json> slicesOf(const RenderInput& in, const std::vector<ServicePort>& ports) {
  const v1::LoadBalancer& lb = *in.loadBalancer;
  std::vector<json> out;
  for (const v1::TargetGroup& g : lb.spec.targetGroups) {
    json jports = json::array();
    for (const ServicePort& p : ports)
      if (p.targetGroup == g.name)
        jports.push_back({{"name", p.name}, {"port", g.port}, {"protocol", p.protocol}});
    if (jports.empty()) continue;  // no listener or rule uses the group: its targets are unused

    static const TargetGroupEndpoints kNone{};
    const TargetGroupEndpoints* given = &kNone;
    for (const TargetGroupEndpoints& t : in.targetGroups)
      if (t.targetGroup == g.name) given = &t;
    groupSlices(in, g.name, jports, *given, out);
  }
  for (const RetiredTargetGroup& r : in.retiredTargetGroups) {
    // A name back in spec is that group's; without ports there is no slice to keep.
    if (findGroup(lb.spec, r.endpoints.targetGroup) != nullptr || !r.ports.is_array() ||
        r.ports.empty())
      continue;
    groupSlices(in, r.endpoints.targetGroup, r.ports, r.endpoints, out);
  }
  return out;
}

// --- Ingress -------------------------------------------------------------------

struct IngressPath {
  std::string host;  // "" none
  std::string path;
  std::string pathType;  // Prefix or Exact
  std::string targetGroup;
  json backend;
  std::int64_t listenerPort = 0;
  std::int64_t priority = 0;
  std::string pattern;  // as the user wrote it ("/*" for a rule without paths)
};

// A path pattern as an Ingress path: "/x/*" -> Prefix /x, "/*" -> Prefix /,
// anything else -> Exact. A pattern ending in "*" without "/" before it
// ("/api/v*") becomes Prefix of what precedes it, which matches whole path
// segments only: `loose`, so the caller warns.
struct IngressPathType {
  std::string path;
  std::string type;  // Prefix or Exact
  bool loose = false;
};

IngressPathType ingressPathOf(const std::string& pattern) {
  if (pattern == "/*") return {"/", "Prefix"};
  if (pattern.size() > 2 && pattern.ends_with("/*"))
    return {pattern.substr(0, pattern.size() - 2), "Prefix"};
  if (pattern.ends_with("*")) return {pattern.substr(0, pattern.size() - 1), "Prefix", true};
  return {pattern, "Exact"};
}

// Whether Ingress `prefix` (a Prefix path) matches every request `path`
// matches, element-wise as Ingress does: "/" matches all, /a matches /a and
// /a/b but not /ab.
bool prefixCovers(const std::string& prefix, const std::string& path) {
  if (prefix == "/") return true;
  return path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
          path[prefix.size()] == '/');
}

// Whether, in the Ingress, `later` (a rule ELB evaluates after `earlier`,
// or one of another listener) takes some request that ELB gives `earlier`:
// ingress controllers pick the longest matching path, an Exact path before
// a Prefix of the same length.
bool overrides(const IngressPath& later, const IngressPath& earlier) {
  if (later.host != earlier.host || later.targetGroup == earlier.targetGroup) return false;
  if (earlier.pathType != "Prefix") return false;  // an Exact path wins every request it matches
  if (!prefixCovers(earlier.path, later.path)) return false;
  // ELB's /x/* does not match /x itself, so an Exact /x later takes no
  // request from it (the Prefix /x written for /x/* is the wider one).
  if (later.pathType == "Exact" && later.path == earlier.path && earlier.path != "/" &&
      earlier.pattern.ends_with("/*"))
    return false;
  if (later.pathType == "Exact") return true;  // as long or longer, and Exact
  return later.path.size() > earlier.path.size();
}

std::string describe(const IngressPath& p) {
  std::string s = "rule priority " + std::to_string(p.priority) + " (";
  if (!p.host.empty()) s += "host " + p.host + ", ";
  return s + "path " + p.pattern + ")";
}

std::optional<json> ingressOf(const v1::LoadBalancer& lb, const std::vector<ServicePort>& ports,
                              const std::string& operatorClass,
                              std::vector<std::string>& warnings) {
  if (!isApplication(lb.spec)) return std::nullopt;
  std::vector<const v1::Listener*> http;
  for (const v1::Listener* l : listenersByPort(lb.spec))
    if (isHttp(*l)) http.push_back(l);
  if (http.empty()) return std::nullopt;

  const std::string& name = lb.metadata.name;
  // The backend for `group` as routed by `listener`: the listener's own
  // port when the group is its default, else the port leading to the group.
  auto backendOf = [&](const v1::Listener& listener, const std::string& group) {
    const std::string own = "listener-" + std::to_string(listener.port);
    const ServicePort* port = nullptr;
    for (const ServicePort& p : ports)
      if (p.targetGroup == group && (!port || p.name == own)) port = &p;
    json portRef = json::object();
    if (port && isValidIngressPortName(port->name))
      portRef["name"] = port->name;
    else if (port)
      portRef["number"] = port->port;
    return json{{"service", {{"name", name}, {"port", std::move(portRef)}}}};
  };

  // Rules, listeners in port order, rules by priority, deduplicated on
  // (host, path, pathType): the first keeps it, as ELB's first match wins.
  std::vector<IngressPath> kept;
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> byKey;
  for (const v1::Listener* l : http) {
    for (const v1::ListenerRule* r : rulesByPriority(*l)) {
      const std::vector<std::string> hosts =
          r->conditions.hostHeaders.value_or(std::vector<std::string>{""});
      const std::vector<std::string> patterns =
          r->conditions.pathPatterns.value_or(std::vector<std::string>{"/*"});
      for (const std::string& pattern : patterns)
        if (const IngressPathType t = ingressPathOf(pattern); t.loose)
          warnings.push_back("Listener " + std::to_string(l->port) + " rule priority " +
                             std::to_string(r->priority) + " (path " + pattern +
                             "): the Ingress matches " + t.path + " and paths under " + t.path +
                             "/ only, as Ingress prefixes match whole path segments, not " +
                             "every path starting with " + t.path + ".");
      for (const std::string& host : hosts) {
        for (const std::string& pattern : patterns) {
          const IngressPathType t = ingressPathOf(pattern);
          IngressPath p{host,    t.path,      t.type, r->targetGroup, backendOf(*l, r->targetGroup),
                        l->port, r->priority, pattern};
          auto key = std::make_tuple(host, t.path, t.type);
          auto found = byKey.find(key);
          if (found != byKey.end()) {
            const IngressPath& first = kept[found->second];
            if (first.listenerPort != p.listenerPort && first.targetGroup != p.targetGroup)
              warnings.push_back("Listener " + std::to_string(p.listenerPort) + " " + describe(p) +
                                 " routes to target group " + p.targetGroup + " but listener " +
                                 std::to_string(first.listenerPort) + " " + describe(first) +
                                 " routes to " + first.targetGroup +
                                 ": the Ingress serves every port the same way and keeps " +
                                 "listener " + std::to_string(first.listenerPort) + "'s rule.");
            continue;
          }
          byKey.emplace(std::move(key), kept.size());
          kept.push_back(std::move(p));
        }
      }
    }
  }

  // ELB's semantics the Ingress loses: a path of a later rule, or of
  // another listener's rule (one Ingress serves every port), that is longer
  // takes requests ELB gives the earlier rule.
  std::set<std::pair<std::string, std::string>> reported;
  for (const IngressPath& a : kept)
    for (const IngressPath& b : kept) {
      const bool sameListener = a.listenerPort == b.listenerPort;
      if ((sameListener && a.priority >= b.priority) || !overrides(b, a)) continue;
      const std::string ka = std::to_string(a.listenerPort) + "/" + std::to_string(a.priority);
      const std::string kb = std::to_string(b.listenerPort) + "/" + std::to_string(b.priority);
      if (!reported.emplace(ka, kb).second) continue;
      warnings.push_back(
          "Listener " + std::to_string(a.listenerPort) + " " + describe(a) +
          " is overridden in the Ingress by " +
          (sameListener ? "" : "listener " + std::to_string(b.listenerPort) + " ") + describe(b) +
          " for the paths both match: ingress controllers pick the longest matching path" +
          (sameListener ? ", ELB the lowest priority number" : " on every port") +
          ", so those requests go to target group " + b.targetGroup + ", not " + a.targetGroup +
          ".");
    }

  json rules = json::array();
  std::vector<std::string> hostOrder;
  std::map<std::string, json> pathsByHost;
  for (const IngressPath& p : kept) {
    if (!pathsByHost.count(p.host)) hostOrder.push_back(p.host);
    pathsByHost[p.host].push_back(
        {{"path", p.path}, {"pathType", p.pathType}, {"backend", p.backend}});
  }
  for (const std::string& host : hostOrder) {
    json rule = {{"http", {{"paths", std::move(pathsByHost[host])}}}};
    if (!host.empty()) rule["host"] = host;
    rules.push_back(std::move(rule));
  }

  json spec = {{"defaultBackend", backendOf(*http.front(), http.front()->defaultTargetGroup)}};
  for (const v1::Listener* l : http)
    if (l->defaultTargetGroup != http.front()->defaultTargetGroup)
      warnings.push_back("Listener " + std::to_string(l->port) + "'s default target group " +
                         l->defaultTargetGroup + " is not the Ingress's default backend (" +
                         http.front()->defaultTargetGroup + ", listener " +
                         std::to_string(http.front()->port) +
                         "'s): one Ingress has one default backend for every port.");
  if (!rules.empty()) spec["rules"] = std::move(rules);

  json tls = json::array();
  for (const v1::Listener* l : http) {
    if (l->protocol != "HTTPS" || !l->certificate) continue;
    json entry = {{"secretName", l->certificate->name}};
    std::vector<std::string> hosts;
    for (const v1::ListenerRule* r : rulesByPriority(*l))
      if (r->conditions.hostHeaders)
        for (const std::string& h : *r->conditions.hostHeaders)
          if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
    if (!hosts.empty()) entry["hosts"] = hosts;
    tls.push_back(std::move(entry));
  }
  if (!tls.empty()) spec["tls"] = std::move(tls);

  auto annotation = lb.metadata.annotations.find(api::kIngressClassAnnotation);
  const std::string ingressClass =
      annotation != lb.metadata.annotations.end() && !annotation->second.empty()
          ? annotation->second
          : operatorClass;
  if (!ingressClass.empty()) spec["ingressClassName"] = ingressClass;

  return json{{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "Ingress"},
              {"metadata", metadataOf(lb, name, labelsOf(lb))},
              {"spec", std::move(spec)}};
}

}  // namespace

std::string endpointSliceName(const std::string& loadBalancer, const std::string& targetGroup,
                              bool ipv6, std::size_t number) {
  return slicePrefix(loadBalancer, targetGroup, ipv6) + std::to_string(number);
}

std::string servicePortName(const v1::LoadBalancerSpec& spec, const std::string& targetGroup) {
  for (const ServicePort& p : servicePortsOf(spec))
    if (p.targetGroup == targetGroup) return p.name;
  return "";
}

Rendered renderLoadBalancer(const RenderInput& in) {
  if (!in.loadBalancer) throw std::invalid_argument("renderLoadBalancer: no LoadBalancer given");
  const v1::LoadBalancer& lb = *in.loadBalancer;
  const std::vector<ServicePort> ports = servicePortsOf(lb.spec);
  Rendered out;
  out.service = serviceOf(lb, ports);
  out.endpointSlices = slicesOf(in, ports);
  out.ingress = ingressOf(lb, ports, in.ingressClass, out.warnings);
  return out;
}

}  // namespace kubec2::reconcilers::loadbalancer
