#include "tests/integration/webhook_env.h"

#include "runtime/http_transport.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "tests/integration/helpers.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

WebhookEnvironment* instance = nullptr;

}  // namespace

int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

WebhookEnvironment& WebhookEnvironment::get() {
  if (!instance) throw std::logic_error("WebhookEnvironment is not set up");
  return *instance;
}

double WebhookEnvironment::metricSum(const std::string& family,
                                     const std::string& labelsContain) const {
  HttpOptions o;
  o.baseUrl = "http://127.0.0.1:" + std::to_string(metricsPort_);
  o.http2 = false;
  o.maxRetries = 2;
  o.timeout = std::chrono::seconds(10);
  HttpTransport http(o);
  const HttpResponse r = http.call({.path = "/metrics", .accept = "text/plain"});
  if (!r.ok())
    throw std::runtime_error("cannot read the operator's metrics: " +
                             (r.status ? std::to_string(r.status) : r.failureMessage));
  double sum = 0;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);)
    // A series with labels ("family{...} value") or without ("family value").
    if ((line.rfind(family + "{", 0) == 0 || line.rfind(family + " ", 0) == 0) &&
        line.find(labelsContain) != std::string::npos)
      sum += std::stod(line.substr(line.rfind(' ') + 1));
  return sum;
}

double WebhookEnvironment::deniedReviews() const {
  return metricSum("kubec2_webhook_admission_reviews_total", "allowed=\"false\"");
}

std::string WebhookEnvironment::url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookEnvironment::SetUp() {
  instance = this;
  try {
    start();
  } catch (const std::exception& e) {
    GTEST_FAIL() << "cannot set up the operator's webhook: " << e.what();
  }
}

void WebhookEnvironment::launchOperator() {
  operator_->start();
}

void WebhookEnvironment::stopOperator() {
  if (operator_) operator_->stop();
}

void WebhookEnvironment::restartOperator() {
  operator_->restart();
}

void WebhookEnvironment::start() {
  port_ = freePort();
  metricsPort_ = freePort();
  prometheusPort_ = freePort();
  operator_ = std::make_unique<OperatorProcess>(OperatorProcessOptions{
      .logFile = ControlPlaneEnvironment::get().dir() + "/operator-webhook.log",
      .metricsPort = metricsPort_,
      .webhookPort = port_,
      .webhookSecretNamespace = kNamespace,
      .webhookConfigurationName = kConfigName,
      .operatorNamespace = kNamespace,
      .extraArgs = {"--terminated-instance-retention-seconds", "2",
                    // The scaling tests start this Prometheus
                    // (tests/integration/prometheus_server.h); until then it
                    // is unreachable, which groups without policies never
                    // notice.
                    "--prometheus-url", "http://127.0.0.1:" + std::to_string(prometheusPort_),
                    "--prometheus-timeout-seconds", "2", "--prometheus-scrape-interval-seconds",
                    "1", "--scaling-evaluation-interval", "2", "--request-count-metric",
                    "kubec2_sim_http_requests_total",
                    // A VM that never boots is replaced after 30 s, not 300 s
                    // (tests/integration/compute/scaling_group_test.cpp).
                    "--instance-start-timeout-seconds", "30"}});
  operator_->installWebhookConfigurations();
  operator_->start();
  // Ready once both configurations carry the CA of the Secret.
  caPem_ = operator_->waitForWebhook();
}

void WebhookEnvironment::TearDown() {
  if (operator_) {
    operator_->stop();
    operator_->removeWebhookConfigurations();
  }
  instance = nullptr;
}

}  // namespace kube::testing
