// The webhook's Prometheus metrics, in the operator's one registry
// (runtime/metrics.h). The request metrics carry controller-runtime's names,
// so dashboards made for kubebuilder webhooks work; the review counter says
// what was admitted and what was refused.
#pragma once

#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace kubec2::webhook::metrics {

// controller_runtime_webhook_requests_total{webhook="/validate",code="200"}
prometheus::Counter& requests(const std::string& webhook, int code);
// controller_runtime_webhook_latency_seconds{webhook}
prometheus::Histogram& latency(const std::string& webhook);
// controller_runtime_webhook_requests_in_flight{webhook}
prometheus::Gauge& inFlight(const std::string& webhook);
// kubec2_webhook_admission_reviews_total{webhook,kind,operation,allowed}:
// reviews of compute.kubec2.io objects answered, by outcome.
prometheus::Counter& reviews(const std::string& webhook, const std::string& kind,
                             const std::string& operation, bool allowed);

}  // namespace kubec2::webhook::metrics
