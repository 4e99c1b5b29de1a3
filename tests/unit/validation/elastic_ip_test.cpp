// The ElasticIP rules (api/validation/elastic_ip.cpp): its name is its
// Service's, the address is an IP literal that never changes, ports and
// port names are unique.
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

json elasticIP() {
  return objectOf("ElasticIP", {{"instanceRef", {{"name", "web-1"}}}, {"ports", {{{"port", 22}}}}});
}

std::vector<Refused> elasticIPRefused() {
  const json eip = elasticIP();
  return {
      refused("NameNotADns1035Label", with(eip, {{"/metadata/name", "1web"}}), "metadata.name",
              Type::Invalid, "must be a DNS-1035 label"),
      refused("AddressNotAnIp", with(eip, {{"/spec/address", "10.96.0.300"}}), "spec.address",
              Type::Invalid, "must be an IPv4 or IPv6 address"),
      refused("AddressAHostName", with(eip, {{"/spec/address", "db.example.com"}}), "spec.address",
              Type::Invalid, "must be an IPv4 or IPv6 address"),
      refused("SamePortTwice",
              with(eip, {{"/spec/ports/1", {{"port", 22}, {"protocol", "TCP"}, {"name", "ssh"}}}}),
              "spec.ports[1]", Type::Duplicate, "Duplicate value"),
      // An unnamed TCP 22 is tcp-22.
      refused("PortNameRepeatsADefaultName",
              with(eip, {{"/spec/ports/1", {{"port", 2222}, {"name", "tcp-22"}}}}),
              "spec.ports[1].name", Type::Duplicate, "Duplicate value: \"tcp-22\""),
      refusedUpdate("AddressChanged", with(eip, {{"/spec/address", "10.96.0.50"}}),
                    with(eip, {{"/spec/address", "10.96.0.51"}}), "spec.address", Type::Invalid,
                    "field is immutable: an allocated address never changes"),
      refusedUpdate("AddressAdded", eip, with(eip, {{"/spec/address", "10.96.0.51"}}),
                    "spec.address", Type::Invalid, "field is immutable"),
      refusedUpdate("AddressRemoved", with(eip, {{"/spec/address", "10.96.0.50"}}), eip,
                    "spec.address", Type::Invalid, "field is immutable"),
      refusedUpdate("SchemeChanged", eip, with(eip, {{"/spec/scheme", "internet-facing"}}),
                    "spec.scheme", Type::Invalid, "field is immutable"),
  };
}

std::vector<Admitted> elasticIPAdmitted() {
  const json eip = elasticIP();
  return {
      admitted("Minimal", eip),
      admitted("WithoutInstance", without(eip, "/spec/instanceRef")),
      admitted("Ipv6Address", with(eip, {{"/spec/address", "fd00:10:96::50"}})),
      admitted("SamePortTwoProtocols",
               with(eip, {{"/spec/ports/1", {{"port", 22}, {"protocol", "UDP"}}}})),
      // Moving the address is the point of an Elastic IP.
      admittedUpdate("InstanceMoved", eip, with(eip, {{"/spec/instanceRef/name", "web-2"}})),
      admittedUpdate("Disassociated", eip, without(eip, "/spec/instanceRef")),
      admittedUpdate("SchemeDefaultWrittenOut", eip, with(eip, {{"/spec/scheme", "internal"}})),
      admittedUpdate("PortsChanged", with(eip, {{"/spec/address", "10.96.0.50"}}),
                     with(eip, {{"/spec/address", "10.96.0.50"}, {"/spec/ports/0/port", 2222}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationElasticIP, ValidationRefused,
                         testing::ValuesIn(elasticIPRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationElasticIP, ValidationAdmitted,
                         testing::ValuesIn(elasticIPAdmitted()), caseName<Admitted>);

}  // namespace
}  // namespace kubec2::api::vtest
