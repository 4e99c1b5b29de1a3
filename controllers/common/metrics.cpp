#include "controllers/common/metrics.h"

#include <prometheus/family.h>

#include "runtime/metrics.h"

namespace kubec2::controllers::metrics {

prometheus::Counter& writes(const std::string& action, const std::string& resource) {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("kubec2_writes_total")
          .Help(
              "Writes the operator's controllers made that the API server accepted, by plan "
              "action and resource.")
          .Register(*kube::metrics::registry());
  return family.Add({{"action", action}, {"resource", resource}});
}

}  // namespace kubec2::controllers::metrics
