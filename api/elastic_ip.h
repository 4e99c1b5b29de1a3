// What the ElasticIP's admission rules (api/validation/elastic_ip.cpp) and
// its reconcile (reconcilers/elasticip/plan.cpp) must agree on.
#pragma once

#include <string>

#include "api/v1alpha1/types.h"

namespace kubec2::api {

// The name of the Service port (and EndpointSlice port) of an ElasticIP
// port: its `name`, else its protocol (TCP when absent) in lower case and
// its port, as tcp-22. The webhook refuses two ports of one name.
inline std::string elasticIPPortName(const v1alpha1::ElasticIPPort& p) {
  if (p.name && !p.name->empty()) return *p.name;
  std::string protocol = p.protocol.value_or("TCP");
  for (char& ch : protocol)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return protocol + "-" + std::to_string(p.port);
}

}  // namespace kubec2::api
