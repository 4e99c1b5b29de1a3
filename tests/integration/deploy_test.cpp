// The install of deploy/ (the kustomize base and its overlays) against the
// real control plane, as a platform team runs it: rendered, dry-run on the
// server, applied, re-applied unchanged. Then the operator runs with the
// ServiceAccount's own token, so a verb missing from deploy/base/rbac.yaml
// or webhook.yaml fails here: a 403 in its log, an object never reconciled.
//
// There is no kubelet: the Deployment's pods never run. The operator runs
// beside the control plane instead, with a kubeconfig holding the token of
// kubec2-system/kubec2, and the webhook configurations point at it by url
// (the API server cannot reach a Service's pods here).

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/client.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/operator_process.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kDeploy = std::string(KUBEC2_SOURCE_DIR) + "/deploy";
constexpr const char* kSystem = "kubec2-system";
constexpr const char* kAccount = "system:serviceaccount:kubec2-system:kubec2";

const Resource kSlices{"discovery.k8s.io", "v1beta1", "endpointslices", true, "EndpointSlice"};

// `kubectl kustomize` of deploy/DIR into a file; returns its path.
std::string render(const std::string& dir) {
  const std::string out = ControlPlaneEnvironment::get().dir() + "/kustomize-" +
                          std::regex_replace(dir, std::regex("/"), "-") + ".yaml";
  auto [code, log] = kubectl({"kustomize", kDeploy + "/" + dir, "--output", out});
  if (code != 0) throw std::runtime_error("kubectl kustomize deploy/" + dir + ": " + log);
  return out;
}

std::vector<json> objects(const std::string& dir) {
  return documents(render(dir));
}

const json* find(const std::vector<json>& docs, const std::string& kind, const std::string& name) {
  return findObject(docs, kind, name);
}

bool has(const json& list, const std::string& item) {
  return list.is_array() && std::find(list.begin(), list.end(), json(item)) != list.end();
}

// The operator's Deployment and its one container, asserting they exist.
const json& deployment(const std::vector<json>& docs) {
  const json* d = find(docs, "Deployment", "kubec2-operator");
  if (!d) throw std::runtime_error("no Deployment kubec2-operator");
  return *d;
}
const json& container(const std::vector<json>& docs) {
  return deployment(docs)["spec"]["template"]["spec"]["containers"][0];
}

// Every label of `selector` is on the operator's pods.
bool selectsOperatorPods(const std::vector<json>& docs, const json& selector) {
  const json& labels = deployment(docs)["spec"]["template"]["metadata"]["labels"];
  if (!selector.is_object() || selector.empty()) return false;
  for (const auto& [k, v] : selector.items())
    if (labels.value(k, "") != v) return false;
  return true;
}

// What a security review checks of the RBAC: no wildcard anywhere, nothing
// bound to cluster-admin, and every binding's subject the operator's
// ServiceAccount (a binding to any other name grants nothing to the pods).
void expectLeastPrivilege(const std::vector<json>& docs, const std::string& overlay) {
  int roles = 0;
  for (const auto& d : docs) {
    const std::string kind = d.value("kind", "");
    const std::string name = d["metadata"].value("name", "");
    if (kind == "ClusterRole" || kind == "Role") {
      ++roles;
      for (const auto& rule : d["rules"])
        for (const char* field : {"apiGroups", "resources", "verbs", "resourceNames"})
          EXPECT_FALSE(has(rule.value(field, json::array()), "*"))
              << overlay << ": " << kind << " " << name << " " << rule.dump();
    }
    if (kind == "ClusterRoleBinding" || kind == "RoleBinding") {
      EXPECT_NE(d["roleRef"].value("name", ""), "cluster-admin") << overlay << ": " << name;
      ASSERT_EQ(d["subjects"].size(), 1u) << overlay << ": " << name;
      EXPECT_EQ(d["subjects"][0].value("kind", ""), "ServiceAccount") << name;
      EXPECT_EQ(d["subjects"][0].value("name", ""),
                deployment(docs)["spec"]["template"]["spec"].value("serviceAccountName", ""))
          << overlay << ": " << kind << " " << name
          << " binds a ServiceAccount the pods do not use";
      EXPECT_EQ(d["subjects"][0].value("namespace", ""), kSystem) << name;
      EXPECT_NE(find(docs, d["roleRef"].value("kind", ""), d["roleRef"].value("name", "")), nullptr)
          << overlay << ": " << name << " binds a role the install does not define";
    }
  }
  EXPECT_GE(roles, 2) << overlay;
}

std::string arg(const json& c, const std::string& flag) {
  for (const auto& a : c["args"]) {
    const std::string s = a;
    if (s == flag) return "true";
    if (s.rfind(flag + "=", 0) == 0) return s.substr(flag.size() + 1);
  }
  return "";
}

// The kubectl on PATH has kustomize v4+ (replicas, patches with targets) and
// `create token`: 1.24 or later. Debian's kubernetes-client is 1.20.
bool kubectlIsRecent() {
  static const bool recent = [] {
    auto [code, out] = kubectl({"version", "--client", "-o", "json"});
    const auto j = json::parse(out.substr(std::min(out.find('{'), out.size())), nullptr, false);
    if (code != 0 || !j.is_object()) return false;
    return std::stoi(j["clientVersion"].value("minor", "0")) >= 24;
  }();
  return recent;
}
// hack/install-tools.sh (run by `make deps`) installs one; an older one
// is a failed setup, not a reason to skip.
#define REQUIRE_RECENT_KUBECTL()                                             \
  if (!kubectlIsRecent())                                                    \
  FAIL() << "needs kubectl 1.24 or later (kustomize v4, create token): run " \
            "hack/install-tools.sh"

// ------------------------------------------------------------------ rendering

TEST(DeployKustomize, BaseRendersTheLeastPrivilegedHardenedInstall) {
  REQUIRE_RECENT_KUBECTL();
  const auto docs = objects("base");
  int crds = 0;
  for (const auto& d : docs) crds += d.value("kind", "") == "CustomResourceDefinition";
  EXPECT_EQ(crds, 6);
  ASSERT_NE(find(docs, "Namespace", kSystem), nullptr);
  ASSERT_NE(find(docs, "ServiceAccount", "kubec2"), nullptr);
  expectLeastPrivilege(docs, "base");

  const json& d = deployment(docs);
  EXPECT_EQ(d["spec"]["replicas"], 2);
  const json& pod = d["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "kubec2");
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  const json& c = container(docs);
  EXPECT_EQ(c["image"], "kubec2/operator:0.1.0");
  EXPECT_EQ(arg(c, "--leader-elect"), "true");
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
  for (const char* r : {"requests", "limits"})
    for (const char* q : {"cpu", "memory"})
      EXPECT_TRUE(c["resources"][r].contains(q)) << r << " " << q;

  // The probes reach what the operator serves: the health port of its flag.
  std::map<std::string, int> ports;
  for (const auto& p : c["ports"]) ports[p["name"]] = p["containerPort"];
  EXPECT_EQ(":" + std::to_string(ports["health"]), arg(c, "--health-probe-bind-address"));
  EXPECT_EQ(":" + std::to_string(ports["metrics"]), arg(c, "--metrics-bind-address"));
  EXPECT_EQ(":" + std::to_string(ports["webhook"]), arg(c, "--webhook-bind-address"));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"], "health");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"], "health");

  // Both Services reach the pods, on the ports the operator listens on.
  const json* metrics = find(docs, "Service", "kubec2-metrics");
  const json* webhook = find(docs, "Service", "kubec2-webhook");
  ASSERT_TRUE(metrics && webhook);
  EXPECT_TRUE(selectsOperatorPods(docs, (*metrics)["spec"]["selector"]));
  EXPECT_TRUE(selectsOperatorPods(docs, (*webhook)["spec"]["selector"]));
  EXPECT_EQ((*metrics)["spec"]["ports"][0]["targetPort"], "metrics");
  EXPECT_EQ((*webhook)["spec"]["ports"][0]["targetPort"], ports["webhook"]);
  for (const char* kind : {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}) {
    const json* w = find(docs, kind, "kubec2");
    ASSERT_NE(w, nullptr) << kind;
    EXPECT_EQ((*w)["webhooks"][0]["clientConfig"]["service"]["name"], "kubec2-webhook");
  }
}

TEST(DeployKustomize, OverlaysRenderTheirDifferences) {
  REQUIRE_RECENT_KUBECTL();
  const auto dev = objects("overlays/dev");
  EXPECT_EQ(deployment(dev)["spec"]["replicas"], 1);
  EXPECT_EQ(arg(container(dev), "--log-level"), "debug");
  EXPECT_EQ(arg(container(dev), "--scaling-evaluation-interval"), "10");
  EXPECT_EQ(container(dev)["image"], "kubec2/operator:dev");
  expectLeastPrivilege(dev, "dev");

  const auto prod = objects("overlays/prod");
  EXPECT_EQ(deployment(prod)["spec"]["replicas"], 2);
  const json* pdb = find(prod, "PodDisruptionBudget", "kubec2-operator");
  ASSERT_NE(pdb, nullptr);
  EXPECT_EQ((*pdb)["spec"]["minAvailable"], 1);
  EXPECT_TRUE(selectsOperatorPods(prod, (*pdb)["spec"]["selector"]["matchLabels"]));
  const json& anti = deployment(prod)["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
  const json& required = anti["requiredDuringSchedulingIgnoredDuringExecution"][0];
  EXPECT_EQ(required["topologyKey"], "kubernetes.io/hostname");
  EXPECT_TRUE(selectsOperatorPods(prod, required["labelSelector"]["matchLabels"]));
  EXPECT_EQ(container(prod)["resources"]["limits"]["memory"], "512Mi");
  EXPECT_EQ(container(prod)["securityContext"]["readOnlyRootFilesystem"], true);
  expectLeastPrivilege(prod, "prod");

  // cert-manager: the Certificate's Secret is what the operator reads, and
  // its own certificate RBAC is gone.
  const auto cm = objects("overlays/cert-manager");
  const json* cert = find(cm, "Certificate", "kubec2-webhook");
  ASSERT_NE(cert, nullptr);
  EXPECT_TRUE(has((*cert)["spec"]["dnsNames"], "kubec2-webhook.kubec2-system.svc"));
  const json& c = container(cm);
  EXPECT_EQ(arg(c, "--webhook-cert-source"), "files");
  const std::string dir = arg(c, "--webhook-cert-dir");
  std::string mountedSecret;
  for (const auto& m : c["volumeMounts"])
    if (m["mountPath"] == dir)
      for (const auto& v : deployment(cm)["spec"]["template"]["spec"]["volumes"])
        if (v["name"] == m["name"]) mountedSecret = v["secret"].value("secretName", "");
  EXPECT_EQ(mountedSecret, (*cert)["spec"]["secretName"]);
  for (const char* kind : {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}) {
    const json* w = find(cm, kind, "kubec2");
    ASSERT_NE(w, nullptr) << kind;
    EXPECT_EQ((*w)["metadata"]["annotations"].value("cert-manager.io/inject-ca-from", ""),
              "kubec2-system/kubec2-webhook");
  }
  EXPECT_EQ(find(cm, "Role", "kubec2-webhook-certificates"), nullptr);
  EXPECT_EQ(find(cm, "ClusterRole", "kubec2-webhook-ca-injection"), nullptr);
  expectLeastPrivilege(cm, "cert-manager");
}

// ------------------------------------------------------------------ applying

// kubectl apply -k deploy/base: once per process, by whichever test needs it.
void install() {
  static bool done = false;
  if (done) return;
  auto [code, out] = kubectl({"apply", "-k", kDeploy + "/base"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) =
      kubectl({"wait", "--for", "condition=established", "--timeout=60s",
               "crd/instances.compute.kubec2.io", "crd/launchtemplates.compute.kubec2.io",
               "crd/scalinggroups.compute.kubec2.io", "crd/loadbalancers.compute.kubec2.io",
               "crd/elasticips.compute.kubec2.io", "crd/snapshots.compute.kubec2.io"});
  ASSERT_EQ(code, 0) << out;
  done = true;
}

TEST(DeployKustomize, AppliesOnTheServerDryRunThenForRealThenReappliesUnchanged) {
  REQUIRE_RECENT_KUBECTL();
  // A server-side dry run of namespaced objects needs their namespace.
  auto [code, out] = kubectl({"apply", "-f", kDeploy + "/base/namespace.yaml"});
  ASSERT_EQ(code, 0) << out;
  // The PodDisruptionBudget is policy/v1 (1.21+); this 1.20 server has only
  // v1beta1, whose fields it uses are the same.
  std::tie(code, out) = kubectl({"api-versions"});
  const bool policyV1 = out.find("policy/v1\n") != std::string::npos;
  for (const std::string dir : {"base", "overlays/dev", "overlays/prod"}) {
    std::string text = readFile(render(dir));
    if (!policyV1) text = std::regex_replace(text, std::regex("policy/v1\n"), "policy/v1beta1\n");
    const std::string file = render(dir) + ".server.yaml";
    std::ofstream(file) << text;
    std::tie(code, out) = kubectl({"apply", "--dry-run=server", "-f", file});
    EXPECT_EQ(code, 0) << dir << ": " << out;
    EXPECT_NE(out.find("deployment.apps/kubec2-operator created (server dry run)"),
              std::string::npos)
        << dir << ": " << out;
  }

  install();
  // Re-applied: every object unchanged (a GitOps sync of the same commit).
  std::tie(code, out) = kubectl({"apply", "-k", kDeploy + "/base"});
  ASSERT_EQ(code, 0) << out;
  std::istringstream lines(out);
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    ++n;
    EXPECT_TRUE(line.ends_with(" unchanged")) << line;
  }
  EXPECT_EQ(static_cast<size_t>(n), objects("base").size()) << out;
}

// ------------------------------------------------------------------ the operator under its RBAC

class UnderItsServiceAccount : public ::testing::Test {
 protected:
  void TearDown() override {
    if (operator_) operator_->stop();
    // The configurations point at this test's operator, gone now.
    for (const Resource* r : {&kValidating, &kMutating}) {
      try {
        client.del(*r, "", "kubec2");
      } catch (const std::exception&) {
      }
    }
  }

  void startOperator(const std::string& kubeconfig, int webhookPort) {
    operator_ = std::make_unique<OperatorProcess>(OperatorProcessOptions{
        .logFile = ControlPlaneEnvironment::get().dir() + "/operator-serviceaccount.log",
        .kubeconfig = kubeconfig,
        .metricsPort = freePort(),
        .healthPort = freePort(),
        .webhookPort = webhookPort,
        .webhookHosts = "127.0.0.1,kubec2-webhook.kubec2-system.svc",
        .extraArgs = {"--leader-elect", "--terminated-instance-retention-seconds", "2"}});
    operator_->start();
  }

  std::string log() const { return operator_ ? operator_->output() : ""; }

  void apply(const std::string& ns, const json& manifest) {
    auto [code, out] = kubectl({"apply", "-n", ns, "-f", writeManifest(manifest)});
    ASSERT_EQ(code, 0) << out << "\noperator log:\n" << log();
  }

  std::optional<json> get(const Resource& r, const std::string& ns, const std::string& name) {
    try {
      return client.get(r, ns, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return std::nullopt;
      throw;
    }
  }

  RestClient client{adminConfig()};
  std::unique_ptr<OperatorProcess> operator_;
};

json compute(const std::string& kind, const std::string& name, json spec, json labels = {}) {
  json m = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", kind},
            {"metadata", {{"name", name}}},
            {"spec", std::move(spec)}};
  if (!labels.is_null()) m["metadata"]["labels"] = std::move(labels);
  return m;
}

TEST_F(UnderItsServiceAccount, ItReconcilesEveryKindAndIsNeverForbidden) {
  REQUIRE_RECENT_KUBECTL();
  install();
  // What the ServiceAccount may do: named resources and verbs only.
  auto [code, out] = kubectl({"auth", "can-i", "--list", "--as", kAccount, "-n", kSystem});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("virtualmachines.kubevirt.io"), std::string::npos) << out;
  std::istringstream rows(out);
  for (std::string row; std::getline(rows, row);) {
    // Rows of resources (the non-resource URLs, indented, are the cluster's
    // default discovery roles such as /apis/*, not the operator's).
    if (!row.empty() && row[0] != ' ') {
      EXPECT_EQ(row.find('*'), std::string::npos) << row;
    }
  }

  const std::string kubeconfig =
      serviceAccountKubeconfig(kSystem, "kubec2",
                               ControlPlaneEnvironment::get().dir() + "/kubec2-sa.kubeconfig")
          .path;
  const int webhookPort = freePort();
  pointWebhookConfigurationsAt("kubec2", webhookPort);
  startOperator(kubeconfig, webhookPort);

  // Its certificates (Secret kubec2-webhook-tls, both caBundles) and the
  // leader-election Lease, written with the Roles of deploy/base.
  ASSERT_TRUE(eventually([&] { return caBundlesWritten("kubec2"); }, 60s)) << log();
  const auto lease = get(kLeases, kSystem, "kubec2-operator");
  ASSERT_TRUE(lease.has_value()) << log();
  EXPECT_FALSE((*lease)["spec"].value("holderIdentity", "").empty());

  SimulatedNamespace sim("deploy-apps", {.bootDelayMs = 200, .ipRangeStart = "127.13.0.1"});
  const std::string ns = sim.name();
  const json image = {{"containerDisk", "quay.io/containerdisks/fedora:40"}};
  // Through the webhook: the operator's lookups read with the same RBAC.
  apply(ns,
        compute("LaunchTemplate", "web",
                {{"versions", {{{"spec", {{"image", image}, {"instanceType", "t3.micro"}}}}}}}));
  apply(ns, compute("Instance", "solo", {{"image", image}, {"instanceType", "t3.micro"}}));
  apply(ns, compute("ScalingGroup", "web",
                    {{"minSize", 1},
                     {"maxSize", 3},
                     {"desiredCapacity", 2},
                     {"launchTemplateRef", {{"name", "web"}}}}));
  apply(ns, compute("LoadBalancer", "web",
                    {{"type", "application"},
                     {"listeners",
                      {{{"port", 8080}, {"protocol", "HTTP"}, {"defaultTargetGroup", "app"}}}},
                     {"targetGroups",
                      {{{"name", "app"},
                        {"port", 80},
                        {"healthCheck",
                         {{"path", "/healthz"},
                          {"intervalSeconds", 5},
                          {"timeoutSeconds", 2},
                          {"healthyThresholdCount", 2},
                          {"unhealthyThresholdCount", 2}}},
                        {"targets", {{"scalingGroupRef", {{"name", "web"}}}}}}}}}));

  // The Instance runs: its VM, its status, an Event.
  EXPECT_TRUE(eventually(
      [&] {
        const auto i = get(kInstances, ns, "solo");
        return i && (*i)["status"].value("state", "") == "running" && get(kVMs, ns, "solo");
      },
      60s))
      << log();
  EXPECT_TRUE(eventually([&] {
    for (const auto& e : client.list(kEvents, ns, {}).items)
      if (e["involvedObject"].value("name", "") == "solo" && e.value("reason", "") == "Running")
        return true;
    return false;
  })) << log();
  // The group launched two members, both behind the load balancer's Service
  // and EndpointSlice, healthy.
  EXPECT_TRUE(eventually(
      [&] {
        const auto g = get(kGroups, ns, "web");
        return g && (*g)["status"].value("desiredCapacity", -1) == 2 &&
               client.list(kInstances, ns, {.labelSelector = "compute.kubec2.io/scaling-group=web"})
                       .items.size() == 2;
      },
      60s))
      << log();
  EXPECT_TRUE(eventually([&] { return get(kServices, ns, "web").has_value(); }, 60s)) << log();
  EXPECT_TRUE(eventually(
      [&] {
        size_t ready = 0;
        for (const auto& s :
             client.list(kSlices, ns, {.labelSelector = "kubernetes.io/service-name=web"}).items)
          for (const auto& e : s.value("endpoints", json::array()))
            ready += e["conditions"].value("ready", false);
        const auto lb = get(kLoadBalancers, ns, "web");
        return ready == 2 && lb && (*lb)["status"].value("healthyTargets", -1) == 2;
      },
      60s))
      << log();

  // kubectl scale past maxSize: refused by the webhook with the bound.
  std::tie(code, out) = kubectl({"scale", "scalinggroup", "web", "-n", ns, "--replicas=5"});
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("must be less than or equal to spec.maxSize (3)"), std::string::npos) << out;

  // Terminated: the VM deleted and the finalizer removed.
  std::tie(code, out) = kubectl({"delete", "instance", "solo", "-n", ns, "--wait=false"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(
      eventually([&] { return !get(kInstances, ns, "solo") && !get(kVMs, ns, "solo"); }, 60s))
      << log();

  const std::string l = log();
  // An API error logs as "Forbidden (403): ..." (runtime/errors.cpp).
  EXPECT_EQ(l.find("(403)"), std::string::npos) << l;
  EXPECT_EQ(l.find("orbidden"), std::string::npos) << l;
}

}  // namespace
}  // namespace kube::testing
