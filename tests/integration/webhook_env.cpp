#include "tests/integration/webhook_env.h"

#include "runtime/http_transport.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "runtime/base64.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

WebhookEnvironment* instance = nullptr;

const Resource kSecrets{"", "v1", "secrets", true, "Secret"};
const Resource kValidating{"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                           false, "ValidatingWebhookConfiguration"};
const Resource kMutating{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                         false, "MutatingWebhookConfiguration"};

// The webhook configurations of deploy/base/webhook.yaml, as shipped, with a url
// to the test's operator instead of the in-cluster Service.
json shippedConfig(const std::string& kind, int port) {
  for (const json& doc : documents(std::string(KUBEC2_SOURCE_DIR) + "/deploy/base/webhook.yaml")) {
    if (doc.value("kind", "") != kind) continue;
    json c = doc;
    c["metadata"]["name"] = WebhookEnvironment::kConfigName;
    for (auto& w : c["webhooks"]) {
      const std::string path = w["clientConfig"]["service"].value("path", "/");
      w["clientConfig"] = {{"url", "https://127.0.0.1:" + std::to_string(port) + path}};
    }
    return c;
  }
  throw std::runtime_error("deploy/base/webhook.yaml has no " + kind);
}

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
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          KUBEC2_OPERATOR_BIN, "--kubeconfig", ControlPlaneEnvironment::get().kubeconfig(),
          "--metrics-bind-address", "127.0.0.1:" + std::to_string(metricsPort_),
          "--health-probe-bind-address", "0", "--webhook-bind-address",
          "127.0.0.1:" + std::to_string(port_), "--webhook-hosts", "127.0.0.1",
          "--webhook-secret-namespace", kNamespace, "--webhook-configuration-name", kConfigName,
          "--webhook-ca-sync-seconds", "1", "--operator-namespace", kNamespace,
          "--terminated-instance-retention-seconds", "2",
          // The scaling tests start this Prometheus
          // (tests/integration/prometheus_server.h);
          // until then it is unreachable, which
          // groups without policies never notice.
          "--prometheus-url", "http://127.0.0.1:" + std::to_string(prometheusPort_),
          "--prometheus-timeout-seconds", "2", "--prometheus-scrape-interval-seconds", "1",
          "--scaling-evaluation-interval", "2", "--request-count-metric",
          "kubec2_sim_http_requests_total"},
      ControlPlaneEnvironment::get().dir() + "/operator-webhook.log");
}

void WebhookEnvironment::stopOperator() {
  if (!process_) return;
  process_->signal(SIGTERM);
  process_->wait(30s);
}

void WebhookEnvironment::restartOperator() {
  stopOperator();
  launchOperator();
}

void WebhookEnvironment::start() {
  RestClient client(adminConfig());
  try {
    client.create(
        kNamespaces, "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNamespace}}}});
  } catch (const ApiError& e) {
    if (!e.isAlreadyExists()) throw;
  }
  port_ = freePort();
  metricsPort_ = freePort();
  prometheusPort_ = freePort();
  // Configurations first, without a caBundle: the operator fills it in.
  client.create(kValidating, "", shippedConfig(kValidating.kind, port_));
  client.create(kMutating, "", shippedConfig(kMutating.kind, port_));

  launchOperator();

  // Ready once both configurations carry the CA of the Secret and the
  // webhook answers: an invalid ScalingGroup is denied by it.
  bool ready = eventually(
      [&] {
        try {
          const json s = client.get(kSecrets, kNamespace, "kubec2-webhook-tls");
          const std::string ca = s["data"].value("ca.crt", "");
          for (const Resource* r : {&kValidating, &kMutating}) {
            const json c = client.get(*r, "", kConfigName);
            if (c["webhooks"][0]["clientConfig"].value("caBundle", "") != ca) return false;
          }
          caPem_ = kube::base64Decode(ca).value_or("");
          return !caPem_.empty();
        } catch (const ApiError&) {
          return false;
        }
      },
      60s);
  if (!ready) {
    throw std::runtime_error("the operator did not set up its webhook within 60 s; its log:\n" +
                             operatorLog());
  }
}

void WebhookEnvironment::TearDown() {
  if (process_) {
    process_->signal(SIGTERM);
    process_->wait(30s);
  }
  try {
    RestClient client(adminConfig());
    client.del(kValidating, "", kConfigName);
    client.del(kMutating, "", kConfigName);
  } catch (const std::exception&) {
  }
  instance = nullptr;
}

}  // namespace kube::testing
