// The operator's admission webhook under the compute API tests: the real
// operator binary serving HTTPS on 127.0.0.1, with self-signed certificates
// it keeps in a Secret and a Validating- and MutatingWebhookConfiguration
// (url clientConfig, as the API server reaches 127.0.0.1 directly here; in a
// cluster they name the Service, see deploy/) whose caBundle it writes.
// Every test of the binary then goes through the webhook, as a user's
// kubectl apply would.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/operator_process.h"

namespace kube::testing {

class WebhookEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
  static WebhookEnvironment& get();

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  const std::string& caPem() const { return caPem_; }
  // Reviews the webhook has refused so far, from the operator's /metrics
  // (kubec2_webhook_admission_reviews_total{allowed="false"}): how a test
  // tells a webhook refusal from a schema one, as kubectl prints both alike.
  double deniedReviews() const;
  // The sum of a metric family's series whose labels contain `labelsContain`
  // (e.g. kubec2_writes_total, "resource=\"virtualmachines.kubevirt.io\"").
  double metricSum(const std::string& family, const std::string& labelsContain = "") const;
  std::string operatorLog() const { return operator_ ? operator_->output() : ""; }
  // The operator process (the webhook and the controllers): SIGTERM and wait,
  // and start again with the same flags and ports.
  void stopOperator();
  void launchOperator();
  void restartOperator();
  OperatorProcess& operatorProcess() { return *operator_; }
  // Where the operator looks for Prometheus (--prometheus-url): nothing
  // listens there until a test starts a PrometheusServer on this port.
  int prometheusPort() const { return prometheusPort_; }
  static constexpr const char* kConfigName = "kubec2-test";
  static constexpr const char* kNamespace = "kubec2-system";

 private:
  void start();
  int port_ = 0;
  int metricsPort_ = 0;
  int prometheusPort_ = 0;
  std::string caPem_;
  std::unique_ptr<OperatorProcess> operator_;
};

// A TCP port nothing listens on at the time of the call.
int freePort();

}  // namespace kube::testing
