// The LoadBalancer validator: Elastic Load Balancing's rules between
// fields (listener protocols by load balancer type, certificates on HTTPS
// and TLS listeners, rule priorities unique per listener, health check
// timeout below its interval) and the target group protocols it defaults.
#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "api/target_health.h"
#include "api/v1alpha1/types.h"
#include "api/validation/common_rules.h"
#include "api/validation/json_helpers.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {
namespace {

std::vector<std::string> splitCodes(const std::string& text) {
  std::vector<std::string> out;
  std::string::size_type start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    out.push_back(
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The spec rules, on create and on update alike: a load balancer has no
// field that cannot change.
void checkSpec(Context& c, const json& specJson) {
  const auto spec = decode<v1::LoadBalancerSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  const std::string type = spec->type.value_or("application");
  const bool application = type == "application";

  std::set<std::string> groups;
  for (size_t i = 0; i < spec->targetGroups.size(); ++i) {
    const auto& g = spec->targetGroups[i];
    const std::string gp = at("spec.targetGroups", i);
    if (!groups.insert(g.name).second) c.errs.push_back(duplicate(gp + ".name", g.name));
    if (g.healthCheck) {
      const auto& hc = *g.healthCheck;
      const std::int64_t interval = hc.intervalSeconds.value_or(30);
      const std::int64_t timeout = hc.timeoutSeconds.value_or(5);
      if (timeout >= interval)
        c.errs.push_back(invalid(gp + ".healthCheck.timeoutSeconds", timeout,
                                 "must be less than " + gp + ".healthCheck.intervalSeconds (" +
                                     num(interval) + (hc.intervalSeconds ? "" : ", the default") +
                                     ")"));
      // Ranges low-high only (ELB's Matcher.HttpCode): the schema's pattern
      // takes "299-200" too, which would accept nothing.
      if (hc.matcher && hc.matcher->httpCode)
        for (const std::string& part : splitCodes(*hc.matcher->httpCode))
          if (const auto dash = part.find('-'); dash != std::string::npos) {
            int low = 0, high = 0;
            const auto* b = part.data();
            std::from_chars(b, b + dash, low);
            std::from_chars(b + dash + 1, b + part.size(), high);
            if (low > high)
              c.errs.push_back(invalid(gp + ".healthCheck.matcher.httpCode", *hc.matcher->httpCode,
                                       "the range " + part +
                                           " ends before it starts: write it low-high, such as " +
                                           std::to_string(high) + "-" + std::to_string(low)));
          }
      if (hc.port) {
        const bool ok = hc.port->isInt() ? hc.port->intValue() >= 1 && hc.port->intValue() <= 65535
                                         : hc.port->stringValue() == "traffic-port" ||
                                               healthCheckPortNumber(hc.port->stringValue());
        if (!ok)
          c.errs.push_back(
              invalid(gp + ".healthCheck.port",
                      hc.port->isInt() ? num(hc.port->intValue()) : hc.port->stringValue(),
                      "must be a port number from 1 to 65535 or \"traffic-port\""));
      }
    }
    if (g.targets.instanceSelector)
      checkSelector(c, gp + ".targets.instanceSelector", *g.targets.instanceSelector);
  }
  auto checkGroup = [&](const std::string& path, const std::string& name) {
    if (!groups.count(name))
      c.errs.push_back(notFound(path, name, "must name a target group of spec.targetGroups"));
  };

  std::set<std::int64_t> ports;
  for (size_t i = 0; i < spec->listeners.size(); ++i) {
    const auto& l = spec->listeners[i];
    const std::string lp = at("spec.listeners", i);
    if (!ports.insert(l.port).second) c.errs.push_back(duplicate(lp + ".port", l.port));
    const bool http = l.protocol == "HTTP" || l.protocol == "HTTPS";
    const bool network = l.protocol == "TCP" || l.protocol == "UDP" || l.protocol == "TLS";
    if (application && !http)
      c.errs.push_back(
          invalid(lp + ".protocol", l.protocol, "must be HTTP or HTTPS: spec.type is application"));
    if (!application && !network)
      c.errs.push_back(
          invalid(lp + ".protocol", l.protocol, "must be TCP, UDP or TLS: spec.type is " + type));
    const bool secure = l.protocol == "HTTPS" || l.protocol == "TLS";
    if (secure && !l.certificate)
      c.errs.push_back(required(
          lp + ".certificate",
          "a " + l.protocol + " listener needs a certificate (a kubernetes.io/tls Secret)"));
    if (!secure && l.certificate)
      c.errs.push_back(
          forbidden(lp + ".certificate", "only HTTPS and TLS listeners take a certificate"));
    checkGroup(lp + ".defaultTargetGroup", l.defaultTargetGroup);
    if (!l.rules) continue;
    if (!http && !l.rules->empty())
      c.errs.push_back(forbidden(lp + ".rules", "only HTTP and HTTPS listeners take rules"));
    std::set<std::int64_t> priorities;
    for (size_t r = 0; r < l.rules->size(); ++r) {
      const auto& rule = (*l.rules)[r];
      const std::string rp = at(lp + ".rules", r);
      if (!priorities.insert(rule.priority).second)
        c.errs.push_back(duplicate(rp + ".priority", rule.priority));
      checkGroup(rp + ".targetGroup", rule.targetGroup);
    }
  }
}

// TargetGroup.protocol: HTTP behind an application load balancer (it ends
// HTTP and TLS itself); behind a network one, UDP when every listener
// forwarding here is UDP, TCP otherwise (TLS is ended at the listener).
std::string targetGroupProtocol(const json& spec, const std::string& group) {
  const json* type = member(spec, "type");
  if (type == nullptr || !type->is_string() || *type != "network") return "HTTP";
  bool anyListener = false;
  bool allUdp = true;
  if (const json* listeners = member(spec, "listeners"); listeners && listeners->is_array())
    for (const auto& l : *listeners) {
      const json* to = member(l, "defaultTargetGroup");
      if (to == nullptr || !to->is_string() || *to != group) continue;
      anyListener = true;
      const json* protocol = member(l, "protocol");
      allUdp = allUdp && protocol != nullptr && protocol->is_string() && *protocol == "UDP";
    }
  return anyListener && allUdp ? "UDP" : "TCP";
}

class LoadBalancerValidator final : public KindValidator {
 public:
  void validateCreate(Context& c, const json& spec) const override {
    checkServiceName(c, "LoadBalancer");
    checkSpec(c, spec);
  }
  void validateUpdate(Context& c, const json& spec, const json*) const override {
    checkSpec(c, spec);
  }

  void defaults(const json& spec, json& patch) const override {
    const json* groups = member(spec, "targetGroups");
    if (groups == nullptr || !groups->is_array()) return;
    for (size_t i = 0; i < groups->size(); ++i) {
      const json& g = (*groups)[i];
      if (!g.is_object()) continue;
      const std::vector<std::string> base = {"spec", "targetGroups", std::to_string(i)};
      auto path = [&](std::initializer_list<std::string> more) {
        std::vector<std::string> p = base;
        p.insert(p.end(), more);
        return p;
      };
      std::string protocol;
      if (const json* p = member(g, "protocol"); p != nullptr && p->is_string()) {
        protocol = p->get<std::string>();
      } else if (p == nullptr || p->is_null()) {
        const json* name = member(g, "name");
        protocol =
            targetGroupProtocol(spec, name && name->is_string() ? name->get<std::string>() : "");
        patch.push_back(addOp(path({"protocol"}), protocol));
      }
      // The health check speaks the group's protocol; UDP and TLS groups are checked over TCP.
      std::string check;
      if (protocol == "HTTP" || protocol == "HTTPS" || protocol == "TCP") check = protocol;
      if (protocol == "UDP" || protocol == "TLS") check = "TCP";
      if (check.empty()) continue;
      const json* hc = member(g, "healthCheck");
      if (hc == nullptr || hc->is_null())
        patch.push_back(addOp(path({"healthCheck"}), {{"protocol", check}}));
      else if (hc->is_object() && absent(*hc, "protocol"))
        patch.push_back(addOp(path({"healthCheck", "protocol"}), check));
    }
  }
};

}  // namespace

const KindValidator& loadBalancerValidator() {
  return theValidator<LoadBalancerValidator>();
}

}  // namespace kubec2::api::validation
