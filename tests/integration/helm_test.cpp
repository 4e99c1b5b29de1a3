// The Helm chart (helm/kubec2) as a platform team uses it: linted, its
// values checked by values.schema.json, rendered the same as deploy/ (one
// source: deploy/ is the reference, helm/README.md says why), dry-run on the
// server, then installed, upgraded and uninstalled on the real control plane.
// And the observability it ships: every PromQL expression of the Grafana
// dashboard and of the alert rules parses (promtool) and names only metrics
// the operator exports.
//
// Its own control plane: the chart's webhook configurations and
// ClusterRoles are cluster-wide, as deploy/base's are in integration_deploy.
// There is no kubelet, so the operator's pods never run (integration_deploy
// runs the operator under deploy/base's RBAC, which is checked equal here).
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kSource = KUBEC2_SOURCE_DIR;
const std::string kChart = kSource + "/helm/kubec2";
constexpr const char* kSystem = "kubec2-system";

std::string dir() {
  return ControlPlaneEnvironment::get().dir();
}

// Runs `program args...` with stdout and stderr in one log; returns {exit
// code, output}. Helm's cache, config and data live in the control plane's
// folder, never in the user's home.
std::pair<int, std::string> run(const std::string& program, std::vector<std::string> args) {
  static int n = 0;
  const std::string log = dir() + "/" + program + "-" + std::to_string(++n);
  std::vector<std::string> argv = {"/usr/bin/env", "HELM_CACHE_HOME=" + dir() + "/helm/cache",
                                   "HELM_CONFIG_HOME=" + dir() + "/helm/config",
                                   "HELM_DATA_HOME=" + dir() + "/helm/data", program};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, log);
  auto code = p.wait(120s);
  return {code.value_or(-1), p.output()};
}

// helm against the control plane (install, upgrade, uninstall, status).
std::pair<int, std::string> helm(std::vector<std::string> args) {
  args.insert(args.begin(), {"--kubeconfig", ControlPlaneEnvironment::get().kubeconfig()});
  return run("helm", std::move(args));
}

// `helm template` of the chart into a file (--include-crds: the CRDs too);
// returns the file. Rendering needs no cluster.
std::string renderChart(const std::vector<std::string>& options) {
  static int n = 0;
  const std::string out = dir() + "/helm-template-" + std::to_string(++n) + ".yaml";
  std::vector<std::string> args = {"template", "kubec2",         kChart,         "--namespace",
                                   kSystem,    "--include-crds", "--output-dir", out + ".d"};
  args.insert(args.end(), options.begin(), options.end());
  auto [code, log] = run("helm", args);
  if (code != 0) throw std::runtime_error("helm template: " + log);
  // --output-dir: one file per template, no warning mixed into the YAML.
  std::string all;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(out + ".d"))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) all += "---\n" + readFile(f.string()) + "\n";
  std::ofstream(out) << all;
  return out;
}

std::vector<json> chartObjects(const std::vector<std::string>& options = {}) {
  return documents(renderChart(options));
}

std::vector<json> kustomizeObjects(const std::string& path) {
  static int n = 0;
  const std::string out = dir() + "/kustomize-" + std::to_string(++n) + ".yaml";
  auto [code, log] = kubectl({"kustomize", kSource + "/deploy/" + path, "--output", out});
  if (code != 0) throw std::runtime_error("kubectl kustomize deploy/" + path + ": " + log);
  return documents(out);
}

// An object without the labels Helm adds to what deploy/ writes.
json withoutHelmLabels(json o) {
  auto strip = [](json& meta) {
    if (!meta.is_object() || !meta.contains("labels")) return;
    for (const char* k : {"helm.sh/chart", "app.kubernetes.io/managed-by",
                          "app.kubernetes.io/instance", "app.kubernetes.io/version"})
      meta["labels"].erase(k);
    if (meta["labels"].empty()) meta.erase("labels");
  };
  strip(o["metadata"]);
  if (o.value("kind", "") == "Deployment") strip(o["spec"]["template"]["metadata"]);
  return o;
}

std::map<std::string, json> byKindAndName(const std::vector<json>& docs) {
  std::map<std::string, json> m;
  for (const auto& d : docs)
    m[d.value("kind", "") + "/" + d["metadata"].value("name", "")] = withoutHelmLabels(d);
  return m;
}

// The chart rendered with `options` holds exactly the objects of
// deploy/`paths` (less the Namespace, which helm install --create-namespace
// makes), field for field but for Helm's labels.
void expectSameObjects(const std::vector<std::string>& options,
                       const std::vector<std::string>& paths) {
  std::vector<json> kustomized;
  for (const auto& p : paths) {
    auto docs = kustomizeObjects(p);
    kustomized.insert(kustomized.end(), docs.begin(), docs.end());
  }
  auto want = byKindAndName(kustomized);
  want.erase(std::string("Namespace/") + kSystem);
  const auto got = byKindAndName(chartObjects(options));
  std::vector<std::string> wantNames, gotNames;
  for (const auto& [k, v] : want) wantNames.push_back(k);
  for (const auto& [k, v] : got) gotNames.push_back(k);
  EXPECT_EQ(gotNames, wantNames) << "objects of the chart vs deploy/" << paths.back();
  for (const auto& [k, v] : want) {
    const auto it = got.find(k);
    if (it == got.end()) continue;
    EXPECT_EQ(it->second, v) << k << " differs from deploy/" << paths.back()
                             << " (JSON patch chart -> deploy): "
                             << json::diff(it->second, v).dump(1);
  }
}

// ------------------------------------------------------------------ lint and schema

TEST(HelmChart, LintsCleanAlsoStrictAndWithEveryOption) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{},
        {"--strict"},
        {"--strict", "-f", kSource + "/helm/values-prod.yaml", "-f",
         kSource + "/helm/values-cert-manager.yaml", "--set",
         "serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,"
         "prometheus.url=https://prometheus.monitoring:9090,prometheus.caSecret.name=ca"}}) {
    std::vector<std::string> args = {"lint", kChart};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [code, out] = run("helm", args);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("1 chart(s) linted, 0 chart(s) failed"), std::string::npos) << out;
    EXPECT_EQ(out.find("[WARNING]"), std::string::npos) << out;
    EXPECT_EQ(out.find("[ERROR]"), std::string::npos) << out;
  }
}

TEST(HelmChart, SchemaRefusesBadValuesWithHelmsMessage) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"replicas=two", "replicas: Invalid type. Expected: integer, given: string"},
      {"replicas=-1", "replicas: Must be greater than or equal to 0"},
      {"webhook.certificateMode=vault",
       "webhook.certificateMode: webhook.certificateMode must be "
       "one of the following: \"self-signed\", \"cert-manager\""},
      {"replica=2", "Additional property replica is not allowed"},
      {"logLevel=verbose", "logLevel: logLevel must be one of the following"},
      {"prometheus.url=prometheus:9090", "prometheus.url: Does not match pattern"},
      // It goes into PromQL strings: job="...".
      {"prometheusRule.job=a\"b", "prometheusRule.job: Does not match pattern"},
  };
  for (const auto& [set, message] : bad) {
    auto [code, out] = run("helm", {"template", "kubec2", kChart, "--set", set});
    EXPECT_NE(code, 0) << set;
    EXPECT_NE(out.find("values don't meet the specifications of the schema"), std::string::npos)
        << set << ": " << out;
    EXPECT_NE(out.find(message), std::string::npos) << set << ": " << out;
  }
  // What the schema cannot relate: several replicas need leader election,
  // or each reconciles the same objects. One replica without it renders.
  auto [code, out] =
      run("helm", {"template", "kubec2", kChart, "--set", "leaderElection.enabled=false"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("leaderElection.enabled=false with replicas=2: every replica would "
                     "reconcile the same objects; set replicas=1 or leaderElection.enabled=true"),
            std::string::npos)
      << out;
  std::tie(code, out) = run(
      "helm", {"template", "kubec2", kChart, "--set", "leaderElection.enabled=false,replicas=1"});
  EXPECT_EQ(code, 0) << out;
}

// ------------------------------------------------------------------ one source with deploy/

TEST(HelmChart, RendersTheObjectsOfDeployBaseAndItsOverlays) {
  expectSameObjects({}, {"base"});
  expectSameObjects({"-f", kSource + "/helm/values-dev.yaml"}, {"overlays/dev"});
  expectSameObjects({"-f", kSource + "/helm/values-prod.yaml"}, {"overlays/prod"});
  expectSameObjects({"-f", kSource + "/helm/values-cert-manager.yaml"}, {"overlays/cert-manager"});
  // The dashboard and the alerts: the chart's files are the source of
  // deploy/observability's copies.
  expectSameObjects(
      {"--set",
       "serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true"},
      {"base", "observability"});
}

TEST(HelmChart, ValuesReachTheOperatorsFlagsAndPod) {
  const auto docs = chartObjects(
      {"--namespace", "compute", "--set",
       "watchNamespace=shop,ingressClass=nginx,prometheus.url=https://prometheus:9090,"
       "prometheus.bearerTokenSecret.name=prom-token,prometheus.basicAuth.username=kubec2,"
       "prometheus.basicAuth.passwordSecret.name=prom-password,"
       "prometheus.caSecret.name=prom-ca,leaderElection.enabled=false,replicas=1,"
       "image.repository=registry.example/kubec2,image.tag=1.2.3,"
       "nodeSelector.role=infra,tolerations[0].key=infra,tolerations[0].operator=Exists",
       "--set-json", "extraArgs=[\"--max-concurrent-reconciles=8\"]"});
  const json* d = findObject(docs, "Deployment", "kubec2-operator");
  ASSERT_NE(d, nullptr);
  const json& pod = (*d)["spec"]["template"]["spec"];
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "registry.example/kubec2:1.2.3");
  std::vector<std::string> args = c["args"];
  const std::vector<std::string> want = {
      "--metrics-bind-address=:8080",
      "--health-probe-bind-address=:8081",
      "--webhook-bind-address=:9443",
      "--webhook-hosts=kubec2-webhook.compute.svc",
      "--namespace=shop",
      "--ingress-class=nginx",
      "--prometheus-url=https://prometheus:9090",
      "--prometheus-ca-file=/etc/kubec2/prometheus/ca/ca.crt",
      "--prometheus-bearer-token-file=/etc/kubec2/prometheus/token/token",
      "--prometheus-username=kubec2",
      "--prometheus-password-file=/etc/kubec2/prometheus/password/password",
      "--max-concurrent-reconciles=8"};
  EXPECT_EQ(args, want);
  // Each file flag names a file of a mounted Secret.
  std::map<std::string, std::string> secretAt;
  for (const auto& m : c["volumeMounts"])
    for (const auto& v : pod["volumes"])
      if (v["name"] == m["name"]) secretAt[m["mountPath"]] = v["secret"]["secretName"];
  EXPECT_EQ(secretAt["/etc/kubec2/prometheus/ca"], "prom-ca");
  EXPECT_EQ(secretAt["/etc/kubec2/prometheus/token"], "prom-token");
  EXPECT_EQ(secretAt["/etc/kubec2/prometheus/password"], "prom-password");
  EXPECT_EQ(pod["nodeSelector"]["role"], "infra");
  EXPECT_EQ(pod["tolerations"][0]["key"], "infra");
  // The release namespace everywhere deploy/ says kubec2-system.
  const json* binding = findObject(docs, "ClusterRoleBinding", "kubec2-operator");
  ASSERT_NE(binding, nullptr);
  EXPECT_EQ((*binding)["subjects"][0]["namespace"], "compute");
  const json* validating = findObject(docs, "ValidatingWebhookConfiguration", "kubec2");
  ASSERT_NE(validating, nullptr);
  EXPECT_EQ((*validating)["webhooks"][0]["clientConfig"]["service"]["namespace"], "compute");
  EXPECT_EQ(readFile(renderChart({"--namespace", "compute"})).find(kSystem), std::string::npos)
      << "the chart names kubec2-system somewhere";
}

// ------------------------------------------------------------------ on the server

// What the server knows, so the chart is rendered as `helm install` renders
// it here (the PodDisruptionBudget is policy/v1beta1 before 1.21).
bool serverHasPolicyV1() {
  auto [code, out] = kubectl({"api-versions"});
  return code == 0 && out.find("policy/v1\n") != std::string::npos;
}

TEST(HelmChart, TemplateAppliesOnTheServerDryRun) {
  auto [code, out] = kubectl({"create", "namespace", kSystem});
  ASSERT_TRUE(code == 0 || out.find("AlreadyExists") != std::string::npos) << out;
  const std::string pdb = serverHasPolicyV1() ? "true" : "false";
  for (const std::vector<std::string>& options :
       {std::vector<std::string>{},
        {"-f", kSource + "/helm/values-cert-manager.yaml", "--set",
         "serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,"
         "prometheus.url=https://prometheus:9090,prometheus.bearerTokenSecret.name=t,"
         "podDisruptionBudget.enabled=" +
             pdb}}) {
    const std::string file = renderChart(options);
    std::tie(code, out) = kubectl({"apply", "--dry-run=server", "-f", file});
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("deployment.apps/kubec2-operator created (server dry run)"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("customresourcedefinition.apiextensions.k8s.io/"
                       "scalinggroups.compute.kubec2.io created (server dry run)"),
              std::string::npos)
        << out;
  }
}

std::optional<json> getObject(const std::string& kind, const std::string& name,
                              const std::string& ns = kSystem) {
  std::vector<std::string> args = {"get", kind, name, "-o", "json"};
  if (!ns.empty()) args.insert(args.end(), {"-n", ns});
  auto [code, out] = kubectl(args);
  if (code != 0) return std::nullopt;
  return json::parse(out.substr(out.find('{')));
}

TEST(HelmChart, InstallsUpgradesAndUninstallsKeepingTheCrds) {
  auto [code, out] =
      helm({"install", "kubec2", kChart, "--namespace", kSystem, "--create-namespace", "--set",
            "serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,"
            "podDisruptionBudget.enabled=true"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("STATUS: deployed"), std::string::npos) << out;
  EXPECT_NE(out.find("kubectl -n kubec2-system rollout status deployment/kubec2-operator"),
            std::string::npos)
      << "NOTES.txt: " << out;

  for (const char* crd : {"instances", "launchtemplates", "scalinggroups", "loadbalancers",
                          "elasticips", "snapshots"}) {
    const auto c = getObject("crd", std::string(crd) + ".compute.kubec2.io", "");
    ASSERT_TRUE(c.has_value()) << crd;
  }
  auto d = getObject("deployment", "kubec2-operator");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ((*d)["spec"]["replicas"], 2);
  EXPECT_EQ((*d)["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm");
  EXPECT_EQ((*d)["metadata"]["annotations"]["meta.helm.sh/release-name"], "kubec2");
  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"serviceaccount", "kubec2"},
                                                        {"role", "kubec2-webhook-certificates"},
                                                        {"service", "kubec2-webhook"},
                                                        {"service", "kubec2-metrics"},
                                                        {"servicemonitor", "kubec2"},
                                                        {"prometheusrule", "kubec2"},
                                                        {"configmap", "kubec2-grafana-dashboard"},
                                                        {"poddisruptionbudget", "kubec2-operator"}})
    EXPECT_TRUE(getObject(kind, name).has_value()) << kind << " " << name;
  for (const auto& [kind, name] : std::vector<std::pair<std::string, std::string>>{
           {"clusterrole", "kubec2-operator"},
           {"clusterrole", "kubec2-webhook-ca-injection"},
           {"validatingwebhookconfiguration", "kubec2"},
           {"mutatingwebhookconfiguration", "kubec2"}})
    EXPECT_TRUE(getObject(kind, name, "").has_value()) << kind << " " << name;
  const auto dashboard = getObject("configmap", "kubec2-grafana-dashboard");
  ASSERT_TRUE(dashboard.has_value());
  EXPECT_EQ((*dashboard)["metadata"]["labels"]["grafana_dashboard"], "1");
  EXPECT_EQ(json::parse((*dashboard)["data"]["kubec2.json"].get<std::string>())["uid"], "kubec2");

  // An upgrade changes what it says, and only that.
  std::tie(code, out) = helm({"upgrade", "kubec2", kChart, "--namespace", kSystem, "--reuse-values",
                              "--set", "replicas=1,logLevel=debug"});
  ASSERT_EQ(code, 0) << out;
  d = getObject("deployment", "kubec2-operator");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ((*d)["spec"]["replicas"], 1);
  const json& args = (*d)["spec"]["template"]["spec"]["containers"][0]["args"];
  EXPECT_NE(std::find(args.begin(), args.end(), json("--log-level=debug")), args.end()) << args;
  EXPECT_NE(std::find(args.begin(), args.end(), json("--leader-elect")), args.end()) << args;
  EXPECT_TRUE(getObject("servicemonitor", "kubec2").has_value()) << "--reuse-values kept it";
  std::tie(code, out) = helm({"history", "kubec2", "--namespace", kSystem, "-o", "json"});
  ASSERT_EQ(code, 0) << out;
  const json history = json::parse(out.substr(out.find('[')));
  ASSERT_EQ(history.size(), 2u) << out;
  EXPECT_EQ(history[1]["status"], "deployed");
  EXPECT_EQ(history[0]["status"], "superseded");

  // A value the schema refuses changes nothing.
  std::tie(code, out) = helm({"upgrade", "kubec2", kChart, "--namespace", kSystem, "--reuse-values",
                              "--set", "replicas=two"});
  EXPECT_NE(code, 0) << out;
  EXPECT_EQ(getObject("deployment", "kubec2-operator").value()["spec"]["replicas"], 1);

  // Uninstalled: every object gone but the CRDs, which Helm never deletes
  // (deleting them would delete every Instance, group and load balancer).
  std::tie(code, out) = helm({"uninstall", "kubec2", "--namespace", kSystem, "--wait"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] {
        return !getObject("deployment", "kubec2-operator") &&
               !getObject("serviceaccount", "kubec2") && !getObject("servicemonitor", "kubec2") &&
               !getObject("configmap", "kubec2-grafana-dashboard") &&
               !getObject("clusterrole", "kubec2-operator", "") &&
               !getObject("validatingwebhookconfiguration", "kubec2", "") &&
               !getObject("mutatingwebhookconfiguration", "kubec2", "");
      },
      60s));
  for (const char* crd : {"instances", "launchtemplates", "scalinggroups", "loadbalancers",
                          "elasticips", "snapshots"})
    EXPECT_TRUE(getObject("crd", std::string(crd) + ".compute.kubec2.io", "").has_value()) << crd;
  std::tie(code, out) = helm({"list", "--namespace", kSystem, "-q"});
  EXPECT_EQ(out.find("kubec2"), std::string::npos) << out;
}

// ------------------------------------------------------------------ observability

// Every metric name the operator registers, read from its sources (the
// prometheus-cpp builders name them as string literals).
std::set<std::string> exportedMetrics() {
  std::set<std::string> names;
  const std::regex literal(
      "\"((?:kubec2|workqueue|controller_runtime|leader_election|rest_client)_[a-z0-9_]+)\"");
  for (const char* folder : {"controllers", "runtime"})
    for (const auto& e : std::filesystem::recursive_directory_iterator(kSource + "/" + folder)) {
      const auto ext = e.path().extension();
      if (ext != ".cpp" && ext != ".h") continue;
      const std::string text = readFile(e.path().string());
      for (std::sregex_iterator m(text.begin(), text.end(), literal), end; m != end; ++m)
        names.insert((*m)[1]);
    }
  return names;
}

// The metric names an expression reads: identifiers of the operator's
// families, a histogram's _bucket, _sum and _count read as the histogram.
std::set<std::string> metricsIn(const std::string& expr) {
  std::set<std::string> out;
  const std::regex name(
      "\\b((?:kubec2|workqueue|controller_runtime|leader_election|rest_client)_[a-z0-9_]+)");
  for (std::sregex_iterator m(expr.begin(), expr.end(), name), end; m != end; ++m)
    out.insert(std::regex_replace((*m)[1].str(), std::regex("_(bucket|sum|count)$"), ""));
  return out;
}

// The selectors (name and braces) of an expression on names every
// controller-runtime operator exports, and on Prometheus's own `up`.
std::vector<std::string> sharedSelectorsIn(const std::string& expr) {
  std::vector<std::string> out;
  const std::regex selector(
      "\\b(?:(?:workqueue|controller_runtime|leader_election|rest_client)_[a-z0-9_]+|up)"
      "\\b(\\{[^}]*\\})?");
  for (std::sregex_iterator m(expr.begin(), expr.end(), selector), end; m != end; ++m)
    out.push_back((*m)[0]);
  return out;
}

void collectExprs(const json& panels, std::vector<std::string>& exprs) {
  for (const auto& p : panels) {
    for (const auto& t : p.value("targets", json::array()))
      if (t.contains("expr")) exprs.push_back(t["expr"]);
    if (p.contains("panels")) collectExprs(p["panels"], exprs);
  }
}

// Dashboard variables replaced by values of their kind, as Grafana does
// before it sends a query.
std::string substituted(std::string expr) {
  expr = std::regex_replace(expr, std::regex("\\$__rate_interval|\\$__interval"), "5m");
  return std::regex_replace(expr, std::regex("\\$\\{?[a-z_]+\\}?"), "x");
}

// `promtool check rules` of `exprs` as recording rules: {exit code, output}.
std::pair<int, std::string> promtoolParses(const std::vector<std::string>& exprs) {
  json rules = json::array();
  for (size_t i = 0; i < exprs.size(); ++i)
    rules.push_back({{"record", "kubec2:check:" + std::to_string(i)}, {"expr", exprs[i]}});
  const std::string file = dir() + "/dashboard-rules.json";  // JSON is YAML
  std::ofstream(file) << json{{"groups", {{{"name", "dashboard"}, {"rules", rules}}}}}.dump(2);
  return run("promtool", {"check", "rules", file});
}

TEST(Observability, DashboardQueriesParseAndNameOnlyExportedMetrics) {
  const std::string text = readFile(kChart + "/files/grafana-dashboard.json");
  const json dashboard = json::parse(text);
  std::vector<std::string> exprs;
  collectExprs(dashboard["panels"], exprs);
  ASSERT_GE(exprs.size(), 15u);
  std::vector<std::string> parsed;
  for (const auto& e : exprs) parsed.push_back(substituted(e));
  auto [code, out] = promtoolParses(parsed);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("SUCCESS: " + std::to_string(exprs.size()) + " rules found"),
            std::string::npos)
      << out;

  const auto exported = exportedMetrics();
  ASSERT_TRUE(exported.count("kubec2_scalinggroup_desired_capacity")) << "the source scan works";
  std::set<std::string> used;
  for (const auto& e : exprs)
    for (const auto& m : metricsIn(e)) used.insert(m);
  // The variables' label_values() queries too.
  for (const auto& v : dashboard["templating"]["list"])
    if (v.contains("definition"))
      for (const auto& m : metricsIn(v["definition"])) used.insert(m);
  for (const auto& m : used) EXPECT_TRUE(exported.count(m)) << m << " is not exported";
  // What the issue asks the dashboard to show, per group: capacity in
  // force, in service, min and max against the policy's metric and target;
  // scaling activities; targets by state; reconcile and queue health.
  for (const char* m :
       {"kubec2_scalinggroup_desired_capacity", "kubec2_scalinggroup_in_service",
        "kubec2_scalinggroup_min_size", "kubec2_scalinggroup_max_size",
        "kubec2_scaling_policy_metric_value", "kubec2_scaling_policy_target_value",
        "kubec2_scaling_activities_total", "kubec2_loadbalancer_targets",
        "controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
        "workqueue_depth", "workqueue_queue_duration_seconds"})
    EXPECT_TRUE(used.count(m)) << "the dashboard does not show " << m;
  // The same file is in deploy/observability (RendersTheObjectsOfDeploy...
  // compares the ConfigMaps; this names the file to copy).
  EXPECT_EQ(readFile(kSource + "/deploy/observability/grafana-dashboard.json"), text)
      << "copy helm/kubec2/files/grafana-dashboard.json to deploy/observability/";
}

TEST(Observability, AlertRulesPassPromtoolAndNameOnlyExportedMetrics) {
  const std::string file = kChart + "/files/prometheus-rules.yaml";
  auto [code, out] = run("promtool", {"check", "rules", file});
  EXPECT_EQ(code, 0) << out;
  const json rules = documents(file).at(0);
  const auto exported = exportedMetrics();
  std::set<std::string> alerts;
  for (const auto& g : rules["groups"])
    for (const auto& r : g["rules"]) {
      alerts.insert(r.value("alert", ""));
      const std::string expr = r["expr"];
      const auto used = metricsIn(expr);
      EXPECT_TRUE(!used.empty() || expr.find("up{") != std::string::npos) << r.dump();
      // Names other controller-runtime operators export too: kubec2's job only.
      for (const auto& sel : sharedSelectorsIn(expr))
        EXPECT_NE(sel.find(R"(job="kubec2-metrics")"), std::string::npos)
            << r.value("alert", "") << ": " << sel << " matches other operators' series";
      for (const auto& m : used)
        EXPECT_TRUE(exported.count(m)) << r.value("alert", "") << ": " << m << " is not exported";
      EXPECT_TRUE(r["labels"].contains("severity")) << r.dump();
      EXPECT_TRUE(r["annotations"].contains("summary")) << r.dump();
    }
  // The alerts the issue names.
  for (const char* a : {"KubeC2ScalingGroupAtMaxSize", "KubeC2ScalingInactive",
                        "KubeC2LoadBalancerUnhealthyTargets", "KubeC2ReconcileErrors",
                        "KubeC2NoLeader", "KubeC2OperatorDown"})
    EXPECT_TRUE(alerts.count(a)) << a;
}

// The alerts evaluated by promtool on series as a ServiceMonitor scrapes
// them beside another operator's of the same names: a group at max alerts,
// a fixed-size one does not; another operator's errors, queue and leader
// do not count; no operator scraped at all alerts.
TEST(Observability, AlertRulesFireOnKubec2sSeriesOnly) {
  auto [code, out] = run("promtool", {"test", "rules", testdata("alert-rules-test.yaml")});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

// prometheusRule.job replaces kubec2's job in every rule that matches it, so
// a Prometheus scraping kubec2 under another job name gets working alerts.
TEST(Observability, ChartsAlertRulesMatchTheJobOfItsValue) {
  const auto docs =
      chartObjects({"--set", "prometheusRule.enabled=true,prometheusRule.job=compute/metrics"});
  const json* rule = findObject(docs, "PrometheusRule", "kubec2");
  ASSERT_NE(rule, nullptr);
  int scoped = 0;
  for (const auto& g : (*rule)["spec"]["groups"])
    for (const auto& r : g["rules"])
      for (const auto& sel : sharedSelectorsIn(r["expr"])) {
        EXPECT_NE(sel.find(R"(job="compute/metrics")"), std::string::npos) << sel;
        ++scoped;
      }
  EXPECT_GE(scoped, 4);  // reconcile errors, queue wait, leader, up
  EXPECT_EQ(rule->dump().find("kubec2-metrics"), std::string::npos) << rule->dump(1);
}

// The per-group metrics' own `namespace` label must survive the scrape, or
// the dashboard's $namespace and the alerts name the operator's namespace.
TEST(Observability, ServiceMonitorKeepsTheGroupsNamespaceLabel) {
  const auto docs = chartObjects({"--set", "serviceMonitor.enabled=true"});
  const json* monitor = findObject(docs, "ServiceMonitor", "kubec2");
  ASSERT_NE(monitor, nullptr);
  ASSERT_FALSE((*monitor)["spec"]["endpoints"].empty());
  for (const auto& e : (*monitor)["spec"]["endpoints"])
    EXPECT_EQ(e.value("honorLabels", false), true) << e.dump();
}

// ------------------------------------------------------------------ GitOps examples

// The image the examples' override (kubec2/operator is not published)
// replaces in deploy/overlays/prod, rendered as kustomize renders it:
// {image name, new name, new tag} -> the Deployment's image.
std::string imageWithOverride(const std::string& name, const std::string& newName,
                              const std::string& newTag) {
  static int n = 0;
  const std::string overlay = dir() + "/gitops-overlay-" + std::to_string(++n);
  std::filesystem::create_directories(overlay);
  std::ofstream(overlay + "/kustomization.yaml")
      << json{{"resources",  // kustomize refuses an absolute path
               {std::filesystem::relative(kSource + "/deploy/overlays/prod", overlay).string()}},
              {"images", {{{"name", name}, {"newName", newName}, {"newTag", newTag}}}}}
             .dump();
  const std::string out = overlay + ".yaml";
  auto [code, log] = kubectl({"kustomize", overlay, "--output", out});
  if (code != 0) throw std::runtime_error("kubectl kustomize: " + log);
  const auto docs = documents(out);
  const json* d = findObject(docs, "Deployment", "kubec2-operator");
  if (d == nullptr) throw std::runtime_error("no Deployment in " + out);
  return (*d)["spec"]["template"]["spec"]["containers"][0]["image"];
}

TEST(GitOps, ExamplesReplaceTheUnpublishedImage) {
  // Argo CD: spec.source.kustomize.images, "OLD=NEWNAME:NEWTAG".
  const auto argo = documents(kSource + "/examples/gitops/argocd-application.yaml");
  const json* app = findObject(argo, "Application", "kubec2");
  ASSERT_NE(app, nullptr);
  const std::string entry = app->at("spec").at("source").at("kustomize").at("images").at(0);
  const auto eq = entry.find('='), colon = entry.rfind(':');
  ASSERT_TRUE(eq != std::string::npos && colon != std::string::npos && colon > eq) << entry;
  const std::string argoName = entry.substr(eq + 1, colon - eq - 1);
  EXPECT_EQ(imageWithOverride(entry.substr(0, eq), argoName, entry.substr(colon + 1)),
            argoName + ":" + entry.substr(colon + 1));
  EXPECT_NE(argoName.rfind("kubec2/operator", 0), 0u) << "still the unpublished image";
  // Flux: the Kustomization's spec.images, kustomize's own fields.
  const auto flux = documents(kSource + "/examples/gitops/flux-kustomization.yaml");
  const json* k = findObject(flux, "Kustomization", "kubec2");
  ASSERT_NE(k, nullptr);
  const json& image = k->at("spec").at("images").at(0);
  EXPECT_EQ(imageWithOverride(image["name"], image["newName"], image["newTag"]),
            image["newName"].get<std::string>() + ":" + image["newTag"].get<std::string>());
}

}  // namespace
}  // namespace kube::testing
