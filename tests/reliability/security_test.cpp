// Security (issue 15; docs/reliability.md "Security"):
//   - the RBAC of deploy/ and the Helm chart grants exactly the requests the
//     operator declares (controllers/api-requests.txt), and a run of the
//     operator under that RBAC makes no other request and gets no 403 (the
//     API server's audit log);
//   - TLS verification is off in one documented place only (the prober's
//     ELB-style HTTPS health checks), and an untrusted Prometheus is a
//     TLSError, not a fallback;
//   - no secret (user data from a Secret, the ServiceAccount token, the
//     Prometheus bearer token, the webhook's private key) appears in the
//     operator's or the simulator's log or in any Event;
//   - the container runs as non-root with a read-only root filesystem, and
//     the operator writes no file at all (strace of the run);
//   - with --webhook-client-ca-file the webhook refuses callers without a
//     client certificate from that CA, while the real kube-apiserver, given
//     one in its admission configuration, gets through.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/client.h"
#include "tests/integration/child_process.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/operator_process.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"
#include "tests/reliability/security_checks.h"
#include "tests/reliability/security_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace sec = security;
namespace fs = std::filesystem;

const std::string kSource = KUBEC2_SOURCE_DIR;
constexpr const char* kSystem = "kubec2-system";
constexpr const char* kAccount = "system:serviceaccount:kubec2-system:kubec2";

std::string randomWord(const std::string& prefix) {
  static std::mt19937 rng{std::random_device{}()};
  std::string s = prefix;
  for (int i = 0; i < 24; ++i) s += "abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36];
  return s;
}

// Runs argv; {exit code, stdout and stderr}.
std::pair<int, std::string> run(std::vector<std::string> argv) {
  static int n = 0;
  argv.insert(argv.begin(), "/usr/bin/env");
  ChildProcess p(argv, sec::files().dir + "/run-" + std::to_string(++n) + ".log");
  const auto code = p.wait(120s);
  return {code.value_or(-1), p.output()};
}

std::vector<json> kustomize(const std::string& dir) {
  static int n = 0;
  const std::string out = sec::files().dir + "/kustomize-" + std::to_string(++n) + ".yaml";
  auto [code, log] = kubectl({"kustomize", kSource + "/deploy/" + dir, "--output", out});
  if (code != 0) throw std::runtime_error("kubectl kustomize deploy/" + dir + ": " + log);
  return documents(out);
}

// `helm template` of the chart with `options`, one file per template (no
// warning mixed into the YAML).
std::vector<json> helmTemplate(const std::vector<std::string>& options) {
  static int n = 0;
  const std::string out = sec::files().dir + "/helm-" + std::to_string(++n);
  std::vector<std::string> args = {
      "helm",        "template", "kubec2",       kSource + "/helm/kubec2",
      "--namespace", kSystem,    "--output-dir", out};
  args.insert(args.end(), options.begin(), options.end());
  auto [code, log] = run(args);
  if (code != 0) throw std::runtime_error("helm template: " + log);
  std::vector<json> docs;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file())
      for (auto& d : documents(e.path()))
        if (d.is_object()) docs.push_back(std::move(d));
  return docs;
}

// An object's status; {} before its controller first writes one.
json status(const json& o) {
  const json s = o.value("status", json::object());
  return s.is_object() ? s : json::object();
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += "\n  " + l;
  return s;
}

// ================================================================ the checks' own tests

TEST(SecurityChecks, TheLeakSearchFindsAPlantedSecretAsIsAndInBase64) {
  const std::map<std::string, std::string> secrets = {
      {"token", "eyJhbGciOiJSUzI1NiJ9.planted"}, {"user data", "#!/bin/sh\npassword=hunter22"}};
  EXPECT_TRUE(sec::leaks("{\"msg\":\"Reconciled\",\"name\":\"web\"}", secrets).empty());
  EXPECT_EQ(sec::leaks("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.planted", secrets),
            std::vector<std::string>{"token (as is)"});
  EXPECT_EQ(sec::leaks("{\"data\":{\"userdata\":\"" + base64Encode("#!/bin/sh\npassword=hunter22") +
                           "\"}}",
                       secrets),
            std::vector<std::string>{"user data (base64)"});
  EXPECT_EQ(sec::leaks("-----BEGIN EC PRIVATE KEY-----", secrets),
            std::vector<std::string>{"a PEM private key"});
}

TEST(SecurityChecks, TheAuditCheckCatchesAnUndeclaredOrForbiddenRequest) {
  const std::set<sec::Grant> table = {{"cluster", "", "secrets", "get", "-"},
                                      {"namespace", "", "secrets", "update", "kubec2-webhook-tls"}};
  const std::string user = "system:serviceaccount:kubec2-system:kubec2";
  auto line = [&](const std::string& verb, const std::string& ns, const std::string& name,
                  int code) {
    return json{
        {"stage", "ResponseComplete"},
        {"verb", verb},
        {"requestURI", "/api/v1/namespaces/" + ns + "/secrets/" + name},
        {"user", {{"username", user}}},
        {"objectRef",
         {{"resource", "secrets"}, {"namespace", ns}, {"name", name}, {"apiVersion", "v1"}}},
        {"responseStatus", {{"code", code}}}}
        .dump();
  };
  const auto requests =
      sec::auditedRequests(line("get", "shop", "boot", 200) + "\n" +
                               line("update", "kubec2-system", "kubec2-webhook-tls", 200) + "\n" +
                               line("update", "kubec2-system", "other", 403) + "\n" +
                               line("list", "shop", "", 200) + "\n",
                           user);
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_TRUE(sec::allowedByTable(table, requests[0], kSystem));
  EXPECT_TRUE(sec::allowedByTable(table, requests[1], kSystem));
  EXPECT_FALSE(sec::allowedByTable(table, requests[2], kSystem)) << "another name";
  EXPECT_EQ(requests[2].code, 403);
  EXPECT_FALSE(sec::allowedByTable(table, requests[3], kSystem)) << "list is not declared";
  // The RBAC comparison: a grant beyond the table is reported.
  const auto granted =
      sec::grantsOf({json::parse(R"({"kind":"ClusterRole","metadata":{"name":"r"},"rules":[
         {"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}]})"),
                     json::parse(R"({"kind":"ClusterRoleBinding","metadata":{"name":"b"},
         "roleRef":{"kind":"ClusterRole","name":"r"},
         "subjects":[{"kind":"ServiceAccount","name":"kubec2","namespace":"kubec2-system"}]})")},
                    "kubec2", kSystem);
  EXPECT_EQ(sec::missing(granted, table), std::vector<std::string>{"cluster core secrets list"});
}

// ================================================================ static: RBAC, container, TLS

TEST(SecurityRbac, DeployAndHelmGrantExactlyTheRequestsTheOperatorDeclares) {
  const auto table = sec::readRequestTable(kSource + "/controllers/api-requests.txt");
  ASSERT_GT(table.size(), 40u);
  // Self-signed webhook certificates (the default): every row is needed.
  for (const auto& [what, docs] :
       {std::pair{std::string("deploy/base"), kustomize("base")},
        std::pair{std::string("deploy/overlays/prod"), kustomize("overlays/prod")},
        std::pair{std::string("helm (default values)"), helmTemplate({})},
        std::pair{std::string("helm values-prod.yaml"),
                  helmTemplate({"-f", kSource + "/helm/values-prod.yaml"})}}) {
    const auto granted = sec::grantsOf(docs, "kubec2", kSystem);
    EXPECT_EQ(sec::missing(granted, table), std::vector<std::string>{})
        << what
        << " grants what the operator never requests:" << joined(sec::missing(granted, table));
    EXPECT_EQ(sec::missing(table, granted), std::vector<std::string>{})
        << what << " misses what the operator requests:" << joined(sec::missing(table, granted));
  }
  // cert-manager keeps the certificates: the operator's own certificate
  // grants go, nothing is added.
  for (const auto& [what, docs] :
       {std::pair{std::string("deploy/overlays/cert-manager"), kustomize("overlays/cert-manager")},
        std::pair{std::string("helm values-cert-manager.yaml"),
                  helmTemplate({"-f", kSource + "/helm/values-cert-manager.yaml"})}}) {
    const auto granted = sec::grantsOf(docs, "kubec2", kSystem);
    EXPECT_EQ(sec::missing(granted, table), std::vector<std::string>{})
        << what
        << " grants what the operator never requests:" << joined(sec::missing(granted, table));
    for (const auto& g : granted)
      EXPECT_FALSE(g.resource.find("webhookconfigurations") != std::string::npos ||
                   g.name == "kubec2-webhook-tls")
          << what << ": " << g.str();
  }
}

// Every Deployment of every install: non-root, read-only root filesystem,
// no privilege escalation, no capability, RuntimeDefault seccomp, nothing
// of the host; volumes only from the API (Secrets, ConfigMaps, emptyDir).
void expectHardened(const std::vector<json>& docs, const std::string& what) {
  int deployments = 0;
  for (const auto& d : docs) {
    if (d.value("kind", "") != "Deployment") continue;
    ++deployments;
    const json& pod = d["spec"]["template"]["spec"];
    const std::string name = what + " " + d["metadata"].value("name", "");
    EXPECT_EQ(pod["securityContext"].value("runAsNonRoot", false), true) << name;
    EXPECT_NE(pod["securityContext"].value("runAsUser", 0), 0) << name;
    EXPECT_EQ(pod["securityContext"]["seccompProfile"].value("type", ""), "RuntimeDefault") << name;
    for (const char* host : {"hostNetwork", "hostPID", "hostIPC"})
      EXPECT_FALSE(pod.value(host, false)) << name << " " << host;
    for (const auto& v : pod.value("volumes", json::array()))
      EXPECT_TRUE(v.contains("secret") || v.contains("configMap") || v.contains("emptyDir") ||
                  v.contains("projected"))
          << name << " volume " << v.dump();
    for (const auto& c : pod["containers"]) {
      const json& s = c["securityContext"];
      EXPECT_EQ(s.value("readOnlyRootFilesystem", false), true) << name;
      EXPECT_EQ(s.value("allowPrivilegeEscalation", true), false) << name;
      EXPECT_EQ(s.value("privileged", false), false) << name;
      EXPECT_EQ(s["capabilities"]["drop"], json::array({"ALL"})) << name;
      EXPECT_FALSE(s["capabilities"].contains("add")) << name;
      if (s.contains("runAsUser")) {
        EXPECT_NE(s["runAsUser"], 0) << name;
      }
      for (const auto& m : c.value("volumeMounts", json::array()))
        EXPECT_EQ(m.value("readOnly", false), true) << name << " mount " << m.dump();
    }
  }
  EXPECT_EQ(deployments, 1) << what;
}

TEST(SecurityContainer, EveryInstallRunsNonRootReadOnlyWithoutPrivilegeAndTheImageIsNonRoot) {
  expectHardened(kustomize("base"), "deploy/base");
  for (const char* o : {"dev", "prod", "cert-manager"})
    expectHardened(kustomize(std::string("overlays/") + o), std::string("overlays/") + o);
  expectHardened(helmTemplate({}), "helm");
  for (const char* v : {"values-prod.yaml", "values-dev.yaml", "values-cert-manager.yaml"})
    expectHardened(helmTemplate({"-f", kSource + "/helm/" + v}), v);
  // Every Secret-backed option of the chart at once: still read-only mounts.
  expectHardened(
      helmTemplate({"--set", "prometheus.url=https://prometheus:9090", "--set",
                    "prometheus.caSecret.name=ca", "--set", "prometheus.bearerTokenSecret.name=tok",
                    "--set", "webhook.clientCASecret.name=apiserver-client-ca"}),
      "helm with every Secret mounted");

  // The image's last USER: numeric, so runAsNonRoot can check it, and not 0.
  std::ifstream docker(kSource + "/Dockerfile");
  std::string user;
  for (std::string line; std::getline(docker, line);)
    if (line.starts_with("USER ")) user = line.substr(5);
  EXPECT_TRUE(std::regex_match(user, std::regex("[1-9][0-9]*(:[1-9][0-9]*)?"))) << user;
}

// Every place in the tree that could turn TLS verification off. Only the
// prober may, and its header says so; everything else sets it on or names
// it to refuse it.
TEST(SecurityTls, VerificationIsOffOnlyInTheDocumentedProber) {
  // In C++: libcurl's and OpenSSL's (boost::asio) switches. In scripts: curl -k.
  const std::regex codeOff(
      R"(SSL_VERIFY(PEER|HOST)\s*,\s*0|verify_none|SSL_VERIFY_NONE|insecure_skip|skipTlsVerify\s*=\s*true)");
  const std::regex shellOff(R"(curl.*(\s-k\b|\s-[a-zA-Z]*k[a-zA-Z]*\s|--insecure))");
  std::vector<std::string> found;
  for (const char* top : {"runtime", "controllers", "reconcilers", "api", "tools", "hack"}) {
    for (const auto& e : fs::recursive_directory_iterator(kSource + "/" + top)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h" && ext != ".sh")) continue;
      std::ifstream in(e.path());
      int n = 0;
      for (std::string line; std::getline(in, line);) {
        ++n;
        if (std::regex_search(line, ext == ".sh" ? shellOff : codeOff))
          found.push_back(fs::relative(e.path(), kSource).string() + ":" + std::to_string(n));
      }
    }
  }
  // The listed places, by file: the prober's two (VERIFYPEER and
  // VERIFYHOST, for Https targets only), and the test control plane's
  // check of its own kube-controller-manager's /healthz, whose certificate
  // that process makes up itself in its --cert-dir (a test fixture, never
  // the operator).
  const std::map<std::string, int> listed = {{"runtime/prober.cpp", 2},
                                             {"hack/local-cluster.sh", 1}};
  std::map<std::string, int> byFile;
  for (const auto& f : found) ++byFile[f.substr(0, f.find(':'))];
  EXPECT_EQ(byFile, listed) << "TLS verification turned off outside the listed places:"
                            << joined(found);
  // Documented where users look: the prober's header and the load
  // balancer docs.
  EXPECT_TRUE(has(readFile(kSource + "/runtime/prober.h"), "NOT verified"));
  // The API server's client verifies, and a kubeconfig asking otherwise is
  // refused (tests/integration/operator_test.cpp InsecureSkipTlsVerifyIsRefused).
  const std::string transport = readFile(kSource + "/runtime/http_transport.cpp");
  EXPECT_TRUE(has(transport, "CURLOPT_SSL_VERIFYPEER, 1L"));
  EXPECT_TRUE(has(transport, "CURLOPT_SSL_VERIFYHOST, 2L"));
  EXPECT_TRUE(has(readFile(kSource + "/runtime/config.cpp"), "insecure-skip-tls-verify is true"));
}

// ================================================================ the operator under its RBAC

// One run for the checks below: deploy/base applied, the operator under its
// ServiceAccount's token (and under strace, for the files it writes) with
// --webhook-client-ca-file and an untrusted HTTPS Prometheus with a bearer
// token; a namespace with the simulator and every kind, user data from a
// Secret.
class OperatorUnderItsRbac : public ::testing::Test {
 protected:
  static inline std::unique_ptr<OperatorProcess> operator_;
  static inline std::unique_ptr<ChildProcess> prometheus_;
  static inline std::unique_ptr<SimulatedNamespace> sim_;
  static inline std::string ns_, token_, bearer_, password_, userData_, trace_, setupError_;
  static inline int webhookPort_ = 0;
  static inline bool traced_ = false;
  static inline bool stopped_ = false;

  static void SetUpTestSuite() {
    try {
      setUp();
    } catch (const std::exception& e) {
      setupError_ = "at " + stage_ + ": " + e.what();
    }
  }
  static inline std::string stage_;

  static void setUp() {
    RestClient admin(adminConfig());
    const std::string dir = sec::files().dir;
    stage_ = "install";
    auto [code, out] = kubectl({"apply", "-k", kSource + "/deploy/base"});
    if (code != 0) throw std::runtime_error("kubectl apply -k deploy/base: " + out);
    std::tie(code, out) =
        kubectl({"wait", "--for", "condition=established", "--timeout=60s",
                 "crd/instances.compute.kubec2.io", "crd/launchtemplates.compute.kubec2.io",
                 "crd/scalinggroups.compute.kubec2.io", "crd/loadbalancers.compute.kubec2.io",
                 "crd/elasticips.compute.kubec2.io", "crd/snapshots.compute.kubec2.io"});
    if (code != 0) throw std::runtime_error("CRDs not established: " + out);

    // A pod's view: the ServiceAccount's token and namespace.
    const auto account = serviceAccountKubeconfig(kSystem, "kubec2", dir + "/kubec2-sa.kubeconfig");
    token_ = account.token;

    // The API server reaches the webhook by url here (no Service's pods).
    webhookPort_ = freePort();
    pointWebhookConfigurationsAt("kubec2", webhookPort_);

    // Prometheus's stand-in: TLS with a certificate nobody trusts.
    const int promPort = freePort();
    prometheus_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/openssl", "s_server", "-accept",
                                 std::to_string(promPort), "-cert", dir + "/prometheus.crt", "-key",
                                 dir + "/prometheus.key", "-www"},
        dir + "/prometheus-stand-in.log");
    bearer_ = randomWord("prom-bearer-");
    std::ofstream(dir + "/prometheus-token") << bearer_ << "\n";
    password_ = randomWord("prom-password-");
    std::ofstream(dir + "/prometheus-password") << password_ << "\n";

    // Every file the operator opens for writing, creates, renames or
    // removes (strace; the pods' root filesystem is read-only).
    trace_ = dir + "/operator.strace";
    traced_ = fs::exists("/usr/bin/strace");
    operator_ = std::make_unique<OperatorProcess>(OperatorProcessOptions{
        .logFile = dir + "/operator.log",
        .kubeconfig = account.path,
        .metricsPort = freePort(),
        .healthPort = freePort(),
        .webhookPort = webhookPort_,
        .webhookHosts = "127.0.0.1,kubec2-webhook.kubec2-system.svc",
        .extraArgs = {"--leader-elect", "--webhook-client-ca-file", sec::files().clientCa,
                      "--prometheus-url", "https://127.0.0.1:" + std::to_string(promPort),
                      "--prometheus-bearer-token-file", dir + "/prometheus-token",
                      // Read at start too (the token wins when both are set).
                      "--prometheus-username", "kubec2", "--prometheus-password-file",
                      dir + "/prometheus-password", "--scaling-evaluation-interval", "2",
                      "--terminated-instance-retention-seconds", "2"},
        .wrapper = traced_ ? std::vector<std::string>{"/usr/bin/strace", "-f", "-qq",
                                                      "--seccomp-bpf", "-o", trace_, "-e",
                                                      "trace=open,openat,openat2,creat,mkdir,"
                                                      "mkdirat,rename,renameat,renameat2,unlink,"
                                                      "unlinkat,rmdir,truncate,symlink,symlinkat,"
                                                      "link,linkat,chmod,fchmodat"}
                           : std::vector<std::string>{}});
    operator_->start();

    stage_ = "caBundle";
    // Ready once both caBundles are written.
    if (!eventually([&] { return caBundlesWritten("kubec2"); }, 60s))
      throw std::runtime_error("the operator wrote no caBundle:\n" + operator_->output());

    stage_ = "simulator";
    sim_ = std::make_unique<SimulatedNamespace>(
        uniqueNamespaceName("security"),
        SimulatedNamespace::Options{.bootDelayMs = 200, .ipRangeStart = "127.14.0.1"});
    ns_ = sim_->name();
    userData_ = "#!/bin/sh\necho " + randomWord("user-data-secret-") + " > /etc/motd\n";
    admin.create(kSecrets, ns_,
                 {{"apiVersion", "v1"},
                  {"kind", "Secret"},
                  {"metadata", {{"name", "boot"}}},
                  {"stringData", {{"userdata", userData_}}}});
    const json image = {{"containerDisk", "quay.io/containerdisks/fedora:40"}};
    const json userData = {{"secretRef", {{"name", "boot"}}}};
    // Through the webhook, which the API server reaches with its client
    // certificate only.
    for (const json& m : {
             compute("LaunchTemplate", "web",
                     {{"versions",
                       {{{"spec",
                          {{"image", image},
                           {"instanceType", "t3.micro"},
                           {"userData", userData}}}}}}}),
             compute("Instance", "solo",
                     {{"image", image}, {"instanceType", "t3.micro"}, {"userData", userData}}),
             compute(
                 "ScalingGroup", "web",
                 {{"minSize", 1},
                  {"maxSize", 3},
                  {"desiredCapacity", 1},
                  {"launchTemplateRef", {{"name", "web"}}},
                  {"scalingPolicies",
                   {{{"name", "cpu"},
                     {"type", "TargetTracking"},
                     {"targetTracking",
                      {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 60}}}}}}}),
             compute("LoadBalancer", "web",
                     {{"type", "application"},
                      {"listeners",
                       {{{"port", 8080}, {"protocol", "HTTP"}, {"defaultTargetGroup", "app"}}}},
                      {"targetGroups",
                       {{{"name", "app"},
                         {"port", 80},
                         {"healthCheck",
                          {{"path", "/healthz"}, {"intervalSeconds", 5}, {"timeoutSeconds", 2}}},
                         {"targets", {{"scalingGroupRef", {{"name", "web"}}}}}}}}}),
         }) {
      std::tie(code, out) = kubectl({"apply", "-n", ns_, "-f", writeManifest(m)});
      if (code != 0)
        throw std::runtime_error("kubectl apply " + m["kind"].get<std::string>() + ": " + out +
                                 "\noperator log:\n" + operator_->output());
    }
    stage_ = "instance running";
    // Running with its user data (the operator's cloud-init Secret), and
    // the group's member behind the load balancer.
    if (!eventually(
            [&] {
              const auto i = getIfExists(admin, kInstances, ns_, "solo");
              return i && status(*i).value("state", "") == "running" &&
                     getIfExists(admin, kSecrets, ns_, "solo-cloud-init");
            },
            90s))
      throw std::runtime_error("Instance solo never ran with its user data:\n" +
                               operator_->output());
    stage_ = "load balancer";
    if (!eventually(
            [&] {
              const auto lb = getIfExists(admin, kLoadBalancers, ns_, "web");
              return lb && status(*lb).value("healthyTargets", -1) == 1;
            },
            90s))
      throw std::runtime_error("LoadBalancer web never had its healthy target:\n" +
                               operator_->output());
    stage_ = "terminate";
    // Terminated: its VM and cloud-init Secret go.
    std::tie(code, out) = kubectl({"delete", "instance", "solo", "-n", ns_, "--wait=false"});
    if (!eventually([&] { return !getIfExists(admin, kInstances, ns_, "solo"); }, 60s))
      throw std::runtime_error("Instance solo never went:\n" + operator_->output());
  }

  static std::optional<json> getIfExists(RestClient& c, const Resource& r, const std::string& ns,
                                         const std::string& name) {
    try {
      return c.get(r, ns, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return std::nullopt;
      throw;
    }
  }

  static json compute(const std::string& kind, const std::string& name, json spec) {
    return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", kind},
            {"metadata", {{"name", name}}},
            {"spec", std::move(spec)}};
  }

  // SIGTERM to the operator (strace's child when traced), then its exit.
  static void stopOperator() {
    if (!operator_ || std::exchange(stopped_, true)) return;
    operator_->stop();
  }

  static void TearDownTestSuite() {
    stopOperator();
    sim_.reset();
    if (prometheus_) {
      prometheus_->signal(SIGTERM);
      prometheus_->wait(10s);
    }
    try {
      RestClient admin(adminConfig());
      for (const Resource* r : {&kValidating, &kMutating}) admin.del(*r, "", "kubec2");
    } catch (const std::exception&) {
    }
  }

  void SetUp() override {
    // The whole error once; after it, a line.
    static bool told = false;
    if (!setupError_.empty()) {
      const std::string e = std::exchange(told, true) ? setupError_.substr(0, 200) : setupError_;
      GTEST_FAIL() << "the run failed: " << e;
    }
  }

  // curl to the webhook with `certArgs`: {exit code, output}.
  static std::pair<int, std::string> callWebhook(const std::vector<std::string>& certArgs) {
    RestClient admin(adminConfig());
    const std::string ca =
        base64Decode(admin.get(kValidating, "", "kubec2")["webhooks"][0]["clientConfig"].value(
                         "caBundle", ""))
            .value_or("");
    const std::string caFile = sec::files().dir + "/webhook-serving-ca.crt";
    std::ofstream(caFile) << ca;
    std::vector<std::string> argv = {"curl",       "-sS",
                                     "--max-time", "10",
                                     "--cacert",   caFile,
                                     "-o",         "/dev/null",
                                     "-w",         "%{http_code}",
                                     "-X",         "POST",
                                     "-H",         "Content-Type: application/json",
                                     "--data",     "{}"};
    argv.insert(argv.end(), certArgs.begin(), certArgs.end());
    argv.push_back("https://127.0.0.1:" + std::to_string(webhookPort_) + "/validate");
    return run(argv);
  }
};

TEST_F(OperatorUnderItsRbac, TheWebhookRefusesCallersWithoutTheApiServersClientCertificate) {
  // The API server got through: every apply above went through both
  // webhooks (failurePolicy Fail), with the certificate of its admission
  // configuration.
  const std::string dir = sec::files().dir;
  auto [code, out] = callWebhook({});
  EXPECT_NE(code, 0) << "no client certificate, answered: " << out;
  std::tie(code, out) =
      callWebhook({"--cert", dir + "/intruder.crt", "--key", dir + "/intruder.key"});
  EXPECT_NE(code, 0) << "a certificate of another CA, answered: " << out;
  // The same request with the API server's certificate is answered (400:
  // "{}" is no AdmissionReview), so the refusals above are the certificate's.
  std::tie(code, out) = callWebhook({"--cert", dir + "/apiserver-webhook-client.crt", "--key",
                                     dir + "/apiserver-webhook-client.key"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(out.ends_with("400")) << out;

  // The CA file is read for every connection, and one that holds no
  // certificate refuses everyone (closed, not open).
  const std::string ca = sec::files().clientCa;
  fs::rename(ca, ca + ".saved");
  std::ofstream(ca) << "not a certificate\n";
  std::tie(code, out) = callWebhook({"--cert", dir + "/apiserver-webhook-client.crt", "--key",
                                     dir + "/apiserver-webhook-client.key"});
  fs::rename(ca + ".saved", ca);
  EXPECT_NE(code, 0) << "an unreadable client CA file let a caller through: " << out;
  EXPECT_TRUE(has(operator_->output(), "Webhook client CA unreadable: refusing every connection"));
  std::tie(code, out) = callWebhook({"--cert", dir + "/apiserver-webhook-client.crt", "--key",
                                     dir + "/apiserver-webhook-client.key"});
  EXPECT_TRUE(out.ends_with("400")) << "not served again once the CA file is back: " << out;
}

// A CA file without a certificate stops the operator at start-up, naming
// the flag, rather than serving a webhook that refuses everyone.
TEST(SecurityWebhook, AClientCaFileWithoutACertificateFailsStartUp) {
  const std::string bad = sec::files().dir + "/empty-ca.crt";
  std::ofstream(bad) << "";
  auto [code, out] =
      run({KUBEC2_OPERATOR_BIN, "--kubeconfig", ControlPlaneEnvironment::get().kubeconfig(),
           "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
           "--webhook-bind-address", "127.0.0.1:" + std::to_string(freePort()),
           "--webhook-secret-namespace", "default", "--webhook-client-ca-file", bad});
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "--webhook-client-ca-file " + bad + ": no PEM CA certificate")) << out;
}

TEST_F(OperatorUnderItsRbac, AnUntrustedPrometheusIsATlsErrorNotAFallback) {
  // The group says why its policy holds: the certificate (its reason is
  // PrometheusUnreachable, the policies' cause for any transport failure).
  RestClient admin(adminConfig());
  json active;
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& c :
             status(admin.get(kGroups, ns_, "web")).value("conditions", json::array()))
          if (c.value("type", "") == "ScalingActive") active = c;
        return has(active.value("message", ""), "SSL certificate problem: self-signed certificate");
      },
      30s))
      << active.dump() << "\n"
      << operator_->output();
  EXPECT_EQ(active.value("status", ""), "False") << active.dump();
  EXPECT_TRUE(has(operator_->output(), "Prometheus query failed (TLSError)"))
      << operator_->output();
  // No fallback: the stand-in saw every handshake refused by the operator
  // ("unknown ca"), so no query (nor its bearer token) was ever sent.
  const std::string server = prometheus_->output();
  EXPECT_TRUE(has(server, "alert unknown ca")) << server;
}

TEST_F(OperatorUnderItsRbac, EveryRequestItMadeIsDeclaredAndNoneWasForbidden) {
  // Stopped first: a watch is audited when it ends, and the Lease's
  // release on SIGTERM is a request too.
  stopOperator();
  const auto table = sec::readRequestTable(kSource + "/controllers/api-requests.txt");
  const auto requests = sec::auditedRequests(readFile(sec::files().auditLog), kAccount);
  ASSERT_GT(requests.size(), 50u) << "the audit log has too few of the operator's requests";
  std::vector<std::string> undeclared, forbidden;
  for (const auto& r : requests) {
    if (!sec::allowedByTable(table, r, kSystem)) undeclared.push_back(r.str());
    if (r.code == 403) forbidden.push_back(r.str());
  }
  EXPECT_EQ(undeclared, std::vector<std::string>{})
      << "requests not in controllers/api-requests.txt:" << joined(undeclared);
  EXPECT_EQ(forbidden, std::vector<std::string>{}) << joined(forbidden);
  // Rows this run had no occasion for (kept: their code paths need volumes
  // or objects this run has not); printed so that a dead row is noticed.
  std::printf("%zu requests audited; declared rows not exercised by this run:%s\n", requests.size(),
              joined(sec::unexercised(table, requests, kSystem)).c_str());
}

TEST_F(OperatorUnderItsRbac, ItWritesNoFile) {
  if (!traced_)
    FAIL() << "no /usr/bin/strace (hack/install-deps.sh installs it): the operator's file writes "
              "were not traced";
  stopOperator();
  std::ifstream in(trace_);
  std::vector<std::string> writes;
  int lines = 0;
  const std::regex opened(R"re("([^"]*)", ([A-Z_|]+))re");
  for (std::string line; std::getline(in, line);) {
    ++lines;
    // Exits, signals and the second half of an interrupted call.
    if (has(line, "+++ ") || has(line, "--- ") || has(line, "resumed>")) continue;
    std::smatch m;
    if (has(line, "open") && std::regex_search(line, m, opened)) {
      const std::string flags = m[2];
      const bool writing = has(flags, "O_WRONLY") || has(flags, "O_RDWR") || has(flags, "O_CREAT");
      if (!writing || m[1] == "/dev/null") continue;
    }
    writes.push_back(line);  // open for writing, or mkdir, rename, unlink...
  }
  EXPECT_GT(lines, 10) << "strace recorded nothing";
  EXPECT_EQ(writes, std::vector<std::string>{}) << joined(writes);
}

TEST_F(OperatorUnderItsRbac, NoSecretInItsLogTheSimulatorsOrAnyEvent) {
  stopOperator();
  RestClient admin(adminConfig());
  std::map<std::string, std::string> secrets = {
      {"the user data of Secret boot", userData_},
      {"the user data's marker", userData_.substr(userData_.find("user-data-secret-"), 41)},
      {"the ServiceAccount token", token_},
      {"the Prometheus bearer token", bearer_},
      {"the Prometheus password", password_}};
  // The webhook's private keys, kept in its Secret.
  const json tls = admin.get(kSecrets, kSystem, "kubec2-webhook-tls").value("data", json::object());
  for (const auto& [key, value] : tls.items()) {
    const std::string pem = base64Decode(value.get<std::string>()).value_or("");
    if (!has(pem, "PRIVATE KEY")) continue;
    const auto body = pem.find('\n');
    secrets["the webhook's " + key] = pem;
    secrets["a line of the webhook's " + key] = pem.substr(body + 1, 48);
  }
  ASSERT_GE(secrets.size(), 7u) << "no private key in Secret kubec2-webhook-tls";
  std::string events;
  for (const auto& e : admin.list(kEvents, "", {}).items) events += e.dump() + "\n";
  for (const auto& [what, text] :
       {std::pair{std::string("the operator's log"), operator_->output()},
        std::pair{std::string("the simulator's log"), sim_->log()},
        std::pair{std::string("the Events"), events}}) {
    EXPECT_GT(text.size(), 1000u) << what << " is nearly empty: nothing was searched";
    EXPECT_EQ(sec::leaks(text, secrets), std::vector<std::string>{}) << what;
  }
}

}  // namespace
}  // namespace kube::testing
