#include "api/validation/launch_rules.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "api/validation/common_rules.h"
#include "api/validation/json_helpers.h"
#include "api/validation/warnings.h"

namespace kubec2::api::validation {
namespace {

size_t utf8Length(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

// One body for both spec types: they share these members by name.
template <typename Spec>
void checkLaunch(Context& c, const std::string& path, const Spec& s) {
  if (s.tags) {
    for (const auto& [key, value] : *s.tags) {
      const size_t len = utf8Length(key);
      if (len < 1 || len > 128)
        c.errs.push_back(invalid(path + ".tags", key, "tag keys must be 1 to 128 characters long"));
      std::string prefix = key.substr(0, 7);
      for (auto& ch : prefix) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (prefix == "kubec2:")
        c.errs.push_back(invalid(path + ".tags", key,
                                 "tag keys must not start with \"kubec2:\", which the operator "
                                 "reserves for its own tags"));
    }
  }
  if (s.volumes) {
    if (s.volumes->root && s.image && s.image->containerDisk)
      c.errs.push_back(forbidden(
          path + ".volumes.root",
          "must not be set with a containerDisk image (" + path +
              ".image.containerDisk), whose root disk is ephemeral: use an http, registry, pvc or "
              "snapshot image for a persistent root volume"));
    if (s.volumes->extra) {
      std::set<std::string> seen;
      for (size_t i = 0; i < s.volumes->extra->size(); ++i) {
        const auto& extra = (*s.volumes->extra)[i];
        const std::string& name = extra.name;
        const std::string p = at(path + ".volumes.extra", i) + ".name";
        // An empty volume has no size but the one asked for.
        if (!extra.sizeGiB && !extra.fromSnapshot)
          c.errs.push_back(required(at(path + ".volumes.extra", i) + ".sizeGiB",
                                    "an empty volume needs a size (only a volume restored from "
                                    "a snapshot, fromSnapshot, takes the copy's size)"));
        if (name == "root" || name == "cloudinit")
          c.errs.push_back(
              invalid(p, name, "is reserved: root and cloudinit name the instance's own disks"));
        else if (!seen.insert(name).second)
          c.errs.push_back(duplicate(p, name));
      }
    }
  }
  if (s.securityGroups) {
    std::set<std::string> seen;
    for (size_t g = 0; g < s.securityGroups->size(); ++g) {
      const auto& group = (*s.securityGroups)[g];
      const std::string gp = at(path + ".securityGroups", g);
      if (!seen.insert(group.name).second) c.errs.push_back(duplicate(gp + ".name", group.name));
      if (!group.ingress) continue;
      for (size_t r = 0; r < group.ingress->size(); ++r) {
        const auto& rule = (*group.ingress)[r];
        const std::string rp = at(gp + ".ingress", r);
        if (rule.protocol.value_or("tcp") == "all") {
          for (const auto& [name, port] :
               {std::pair{"fromPort", rule.fromPort}, std::pair{"toPort", rule.toPort}})
            if (port)
              c.errs.push_back(forbidden(rp + "." + name,
                                         "ports apply to tcp, udp and sctp only: protocol all "
                                         "allows every port"));
        } else if (rule.toPort && !rule.fromPort) {
          c.errs.push_back(forbidden(rp + ".toPort",
                                     "may only be set with fromPort: a port range starts at "
                                     "fromPort"));
        } else if (rule.toPort && *rule.toPort < *rule.fromPort) {
          c.errs.push_back(
              invalid(rp + ".toPort", *rule.toPort,
                      "must be greater than or equal to fromPort (" + num(*rule.fromPort) + ")"));
        }
        for (size_t k = 0; k < rule.sources.size(); ++k)
          if (rule.sources[k].instanceSelector)
            checkSelector(c, at(rp + ".sources", k) + ".instanceSelector",
                          *rule.sources[k].instanceSelector);
      }
    }
  }
}

}  // namespace

void warnLaunchFields(const std::string& path, const nlohmann::json& spec,
                      const AdmissionLookups& lookups, Warnings& out) {
  if (const std::string* type = stringMember(spec, "instanceType"))
    warnInstanceType(path + ".instanceType", *type, lookups, out);
  if (const std::string* zone = stringMember(spec, "availabilityZone"))
    warnZone(path + ".availabilityZone", *zone, lookups, out);
}

void checkLaunchFields(Context& c, const std::string& path, const v1alpha1::InstanceSpec& s) {
  checkLaunch(c, path, s);
}

void checkLaunchFields(Context& c, const std::string& path, const v1alpha1::LaunchSpec& s) {
  checkLaunch(c, path, s);
}

}  // namespace kubec2::api::validation
