#include "controllers/webhook/metrics.h"

#include <prometheus/family.h>

#include "runtime/metrics.h"

namespace kubec2::webhook::metrics {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("controller_runtime_webhook_requests_total")
          .Help("Total number of admission requests by HTTP status code.")
          .Register(*kube::metrics::registry());
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("controller_runtime_webhook_latency_seconds")
          .Help("Histogram of the latency of processing admission requests.")
          .Register(*kube::metrics::registry());
  prometheus::Family<prometheus::Gauge>& inFlight =
      prometheus::BuildGauge()
          .Name("controller_runtime_webhook_requests_in_flight")
          .Help("Current number of admission requests being served.")
          .Register(*kube::metrics::registry());
  prometheus::Family<prometheus::Counter>& reviews =
      prometheus::BuildCounter()
          .Name("kubec2_webhook_admission_reviews_total")
          .Help(
              "AdmissionReviews of compute.kubec2.io objects answered, by webhook, kind, "
              "operation and whether the request was allowed.")
          .Register(*kube::metrics::registry());
};

Families& families() {
  static Families f;
  return f;
}

}  // namespace

prometheus::Counter& requests(const std::string& webhook, int code) {
  return families().requests.Add({{"webhook", webhook}, {"code", std::to_string(code)}});
}

prometheus::Histogram& latency(const std::string& webhook) {
  static const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5,   1.0,  2.5,   5.0,  10.0};
  return families().latency.Add({{"webhook", webhook}}, buckets);
}

prometheus::Gauge& inFlight(const std::string& webhook) {
  return families().inFlight.Add({{"webhook", webhook}});
}

prometheus::Counter& reviews(const std::string& webhook, const std::string& kind,
                             const std::string& operation, bool allowed) {
  return families().reviews.Add({{"webhook", webhook},
                                 {"kind", kind},
                                 {"operation", operation},
                                 {"allowed", allowed ? "true" : "false"}});
}

}  // namespace kubec2::webhook::metrics
