#include "tests/integration/operator_process.h"
#include "tests/integration/resources.h"

#include <signal.h>

#include <fstream>
#include <stdexcept>
#include <utility>

#include "runtime/base64.h"
#include "tests/integration/control_plane.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string address(int port) {
  return port == 0 ? "0" : "127.0.0.1:" + std::to_string(port);
}

}  // namespace

json shippedWebhookConfiguration(const std::string& kind, const std::string& name,
                                 const std::string& baseUrl) {
  for (const json& doc : documents(std::string(KUBEC2_SOURCE_DIR) + "/deploy/base/webhook.yaml")) {
    if (doc.value("kind", "") != kind) continue;
    json c = doc;
    c["metadata"]["name"] = name;
    for (auto& w : c["webhooks"]) {
      const std::string path = w["clientConfig"]["service"].value("path", "/");
      w["clientConfig"] = {{"url", baseUrl + path}};
    }
    return c;
  }
  throw std::runtime_error("deploy/base/webhook.yaml has no " + kind);
}

bool caBundlesWritten(const std::string& name) {
  RestClient client(adminConfig());
  try {
    for (const Resource* r : {&kValidating, &kMutating})
      if (client.get(*r, "", name)["webhooks"][0]["clientConfig"].value("caBundle", "").empty())
        return false;
    return true;
  } catch (const ApiError& e) {
    if (e.isNotFound()) return false;
    throw;
  }
}

ServiceAccountKubeconfig serviceAccountKubeconfig(const std::string& ns, const std::string& account,
                                                  const std::string& path) {
  auto [code, token] = kubectl({"create", "token", account, "-n", ns, "--duration=1h"});
  if (code != 0) throw std::runtime_error("kubectl create token: " + token);
  token.erase(token.find_last_not_of(" \n") + 1);
  json cfg = documents(ControlPlaneEnvironment::get().kubeconfig()).at(0);
  cfg["users"] = json::array({{{"name", account}, {"user", {{"token", token}}}}});
  cfg["contexts"] = json::array(
      {{{"name", account},
        {"context",
         {{"cluster", cfg["clusters"][0]["name"]}, {"user", account}, {"namespace", ns}}}}});
  cfg["current-context"] = account;
  std::ofstream(path) << cfg.dump(2);
  return {.path = path, .token = token};
}

void pointWebhookConfigurationsAt(const std::string& name, int port) {
  for (const auto& [kind, path] : {std::pair{"validatingwebhookconfiguration", "/validate"},
                                   std::pair{"mutatingwebhookconfiguration", "/mutate"}}) {
    auto [code, out] = kubectl(
        {"patch", kind, name, "--type=json", "-p",
         json::array({{{"op", "replace"},
                       {"path", "/webhooks/0/clientConfig"},
                       {"value", {{"url", "https://127.0.0.1:" + std::to_string(port) + path}}}}})
             .dump()});
    if (code != 0) throw std::runtime_error("kubectl patch " + std::string(kind) + ": " + out);
  }
}

OperatorProcess::OperatorProcess(OperatorProcessOptions options) : options_(std::move(options)) {
  if (options_.logFile.empty()) throw std::logic_error("OperatorProcess: no log file");
}

OperatorProcess::~OperatorProcess() {
  stop();
}

void OperatorProcess::start() {
  if (running()) throw std::logic_error("the operator is running already");
  const OperatorProcessOptions& o = options_;
  std::vector<std::string> argv = o.wrapper;
  argv.insert(argv.end(),
              {KUBEC2_OPERATOR_BIN, "--kubeconfig",
               o.kubeconfig.empty() ? ControlPlaneEnvironment::get().kubeconfig() : o.kubeconfig,
               "--metrics-bind-address", address(o.metricsPort), "--health-probe-bind-address",
               address(o.healthPort), "--webhook-bind-address", address(o.webhookPort)});
  if (o.webhookPort != 0)
    argv.insert(argv.end(), {"--webhook-hosts", o.webhookHosts, "--webhook-ca-sync-seconds",
                             std::to_string(o.webhookCaSyncSeconds)});
  if (!o.webhookSecretNamespace.empty())
    argv.insert(argv.end(), {"--webhook-secret-namespace", o.webhookSecretNamespace});
  if (!o.webhookConfigurationName.empty())
    argv.insert(argv.end(), {"--webhook-configuration-name", o.webhookConfigurationName});
  if (!o.operatorNamespace.empty())
    argv.insert(argv.end(), {"--operator-namespace", o.operatorNamespace});
  argv.insert(argv.end(), o.extraArgs.begin(), o.extraArgs.end());
  ++starts_;
  std::ofstream(o.logFile, std::ios::app)
      << "--- test harness: kubec2-operator start " << starts_ << " ---\n";
  process_ = std::make_unique<ChildProcess>(argv, o.logFile);
}

pid_t OperatorProcess::operatorPid() const {
  pid_t target = process_->pid();
  if (!options_.wrapper.empty()) {
    // strace, for one, detaches on SIGTERM and leaves its child running.
    std::ifstream children("/proc/" + std::to_string(target) + "/task/" + std::to_string(target) +
                           "/children");
    pid_t child = 0;
    if (children >> child) target = child;
  }
  return target;
}

std::optional<int> OperatorProcess::stop(std::chrono::seconds within) {
  if (!process_) return std::nullopt;
  signal(SIGTERM);
  return process_->wait(within);
}

void OperatorProcess::kill() {
  if (!process_) return;
  signal(SIGKILL);
  if (!process_->wait(30s)) throw std::runtime_error("the operator outlived SIGKILL for 30 s");
}

void OperatorProcess::restart() {
  stop();
  start();
}

void OperatorProcess::signal(int sig) {
  if (!process_ || process_->wait(0ms)) return;  // exited: its pid may be another's now
  if (options_.wrapper.empty())
    process_->signal(sig);
  else
    ::kill(operatorPid(), sig);
}

std::optional<int> OperatorProcess::wait(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  return process_->wait(timeout);
}

bool OperatorProcess::running() {
  return process_ && !process_->wait(0ms).has_value();
}

std::string OperatorProcess::output() const {
  return readFile(options_.logFile);
}

std::string OperatorProcess::tail(std::size_t chars) const {
  const std::string s = output();
  return s.size() > chars ? s.substr(s.size() - chars) : s;
}

std::string OperatorProcess::configurationName() const {
  return options_.webhookConfigurationName.empty() ? "kubec2" : options_.webhookConfigurationName;
}

void OperatorProcess::installWebhookConfigurations() {
  RestClient client(adminConfig());
  if (!options_.webhookSecretNamespace.empty()) {
    try {
      client.create(kNamespaces, "",
                    {{"apiVersion", "v1"},
                     {"kind", "Namespace"},
                     {"metadata", {{"name", options_.webhookSecretNamespace}}}});
    } catch (const ApiError& e) {
      if (!e.isAlreadyExists()) throw;
    }
  }
  // Without a caBundle: the operator fills it in.
  const std::string url = "https://127.0.0.1:" + std::to_string(options_.webhookPort);
  for (const Resource* r : {&kValidating, &kMutating})
    client.create(*r, "", shippedWebhookConfiguration(r->kind, configurationName(), url));
}

void OperatorProcess::removeWebhookConfigurations() noexcept {
  try {
    RestClient client(adminConfig());
    for (const Resource* r : {&kValidating, &kMutating}) {
      try {
        client.del(*r, "", configurationName());
      } catch (const std::exception&) {
      }
    }
  } catch (const std::exception&) {
  }
}

std::string OperatorProcess::waitForWebhook(std::chrono::seconds within) {
  if (options_.webhookSecretNamespace.empty())
    throw std::logic_error("waitForWebhook: no webhookSecretNamespace");
  RestClient client(adminConfig());
  std::string pem;
  const bool ready = eventually(
      [&] {
        try {
          const json s =
              client.get(kSecrets, options_.webhookSecretNamespace, "kubec2-webhook-tls");
          const std::string ca = s["data"].value("ca.crt", "");
          for (const Resource* r : {&kValidating, &kMutating})
            if (client.get(*r, "", configurationName())["webhooks"][0]["clientConfig"].value(
                    "caBundle", "") != ca)
              return false;
          pem = kube::base64Decode(ca).value_or("");
          return !pem.empty();
        } catch (const ApiError&) {
          return false;
        }
      },
      within);
  if (!ready)
    throw std::runtime_error("the operator did not set up its webhook within " +
                             std::to_string(within.count()) + " s; its log:\n" + tail());
  return pem;
}

}  // namespace kube::testing
