// The ElasticIP validator: its name (its Service's), an address that is an
// IP literal, unique ports and port names, and the fields that cannot
// change after allocation (scheme and address: EC2 never changes an
// allocated address; a new one is a new ElasticIP).
#include <arpa/inet.h>

#include <set>
#include <string>
#include <utility>

#include "api/elastic_ip.h"
#include "api/v1alpha1/types.h"
#include "api/validation/common_rules.h"
#include "api/validation/json_helpers.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {
namespace {

bool isIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::optional<v1::ElasticIPSpec> checkSpec(Context& c, const json& specJson) {
  auto spec = decode<v1::ElasticIPSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return std::nullopt;
  if (spec->address && !isIpLiteral(*spec->address))
    c.errs.push_back(invalid("spec.address", *spec->address,
                             "must be an IPv4 or IPv6 address, such as 10.96.0.50"));
  // A Service refuses two ports of one number and protocol, and two of one
  // name; a port without a name is named protocol-port (tcp-22).
  std::set<std::pair<std::int64_t, std::string>> ports;
  std::set<std::string> names;
  for (size_t i = 0; i < spec->ports.size(); ++i) {
    const auto& p = spec->ports[i];
    const std::string protocol = p.protocol.value_or("TCP");
    if (!ports.insert({p.port, protocol}).second)
      c.errs.push_back(
          duplicate(at("spec.ports", i), json{{"port", p.port}, {"protocol", protocol}}));
    const std::string name = elasticIPPortName(p);
    if (!names.insert(name).second)
      c.errs.push_back(duplicate(at("spec.ports", i) + ".name", name));
  }
  return spec;
}

class ElasticIPValidator final : public KindValidator {
 public:
  void validateCreate(Context& c, const json& spec) const override {
    checkServiceName(c, "ElasticIP");
    checkSpec(c, spec);
  }

  void validateUpdate(Context& c, const json& specJson, const json* oldSpecJson) const override {
    const auto spec = checkSpec(c, specJson);
    if (!spec || oldSpecJson == nullptr) return;
    const auto old = decodeQuietly<v1::ElasticIPSpec>(*oldSpecJson, "spec");
    if (!old) return;
    const std::string why =
        "field is immutable: an allocated address never changes (create another ElasticIP for "
        "another address)";
    if (spec->scheme.value_or("internal") != old->scheme.value_or("internal"))
      c.errs.push_back(invalid("spec.scheme", spec->scheme.value_or("internal"), why));
    if (spec->address != old->address)
      c.errs.push_back(
          invalid("spec.address", spec->address ? json(*spec->address) : json(nullptr), why));
  }
};

}  // namespace

const KindValidator& elasticIPValidator() {
  return theValidator<ElasticIPValidator>();
}

}  // namespace kubec2::api::validation
