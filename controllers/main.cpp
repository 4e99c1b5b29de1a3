// kubec2-operator: flags, configuration, the manager, the admission webhook
// and (in later issues) the controllers.
//
// Exit codes: 0 after a graceful stop; 1 for configuration and start-up
// errors (bad kubeconfig, unreachable server, busy port) and when the manager
// fails (leader election lost, a controller failed); 2 for usage errors.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <malloc.h>

#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "controllers/common/instance_type_catalog.h"
#include "controllers/elasticip/elasticip_controller.h"
#include "controllers/instance/instance_controller.h"
#include "controllers/launchtemplate/launchtemplate_controller.h"
#include "controllers/loadbalancer/loadbalancer_controller.h"
#include "controllers/scalinggroup/scalinggroup_controller.h"
#include "controllers/snapshot/snapshot_controller.h"
#include "controllers/webhook/cert_keeper.h"
#include "controllers/webhook/certs.h"
#include "controllers/webhook/lookups.h"
#include "controllers/webhook/server.h"
#include "reconcilers/scalinggroup/group_metrics.h"
#include "runtime/client.h"
#include "runtime/command_line.h"
#include "runtime/config.h"
#include "runtime/errors.h"
#include "runtime/events.h"
#include "runtime/health_server.h"
#include "runtime/http_transport.h"
#include "runtime/leader_election.h"
#include "runtime/log.h"
#include "runtime/manager.h"
#include "runtime/prometheus_client.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kProgram = "kubec2-operator";
constexpr const char* kVersion = "0.1.0";

constexpr int kExitConfig = 1;
constexpr int kExitUsage = kube::cli::kExitUsage;

struct Flags {
  std::string kubeconfig;
  std::string context;
  std::string namespace_;
  bool leaderElect = false;
  std::string leaderElectionNamespace;
  std::string leaderElectionID;
  std::string metricsBindAddress;
  std::string healthProbeBindAddress;
  int maxConcurrentReconciles = 4;
  double kubeApiQps = 20;
  int kubeApiBurst = 30;
  std::string logLevel;
  // Admission webhook (docs/admission-webhook.md).
  std::string webhookBindAddress;
  std::string webhookCertSource;
  std::string webhookCertDir;
  std::string webhookSecretName;
  std::string webhookSecretNamespace;
  std::string webhookHosts;
  std::string webhookConfigurationName;
  std::string webhookClientCaFile;
  int webhookCaSyncSeconds = 60;
  std::string operatorNamespace;
  std::string instanceTypesConfigMap;
  int terminatedRetentionSeconds = 60;
  int instanceStartTimeoutSeconds = 300;
  // Scaling from Prometheus (docs/scaling-policies.md).
  std::string prometheusUrl;
  std::string ingressClass;
  std::string prometheusCaFile;
  std::string prometheusBearerTokenFile;
  std::string prometheusUsername;
  std::string prometheusPasswordFile;
  int prometheusTimeoutSeconds = 10;
  int prometheusScrapeIntervalSeconds = 30;
  int scalingEvaluationIntervalSeconds = 60;
  std::string requestCountMetric;
};

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// One line on stderr, for errors before (or instead of) structured logging.
int fail(int code, const std::string& msg) {
  return kube::cli::fail(kProgram, code, msg);
}

// GET /version once, without the client's retries, so that a wrong server
// address fails start-up within one request timeout instead of after minutes.
std::string checkReachable(kube::RestConfig cfg) {
  cfg.maxRetries = 0;
  kube::RestClient probe(std::move(cfg));
  const auto body = nlohmann::json::parse(probe.request("GET", "/version"), nullptr, false);
  return body.is_object() ? body.value("gitVersion", std::string("unknown")) : "unknown";
}

// A bind flag is "0" (disabled) or host:port.
void validateBindFlag(const std::string& value, const std::string& flag) {
  if (value != "0") kube::parseBindAddress(value, flag);
}

int runOperator(const Flags& f) {
  kube::globalInit();

  kube::RestConfig cfg;
  try {
    cfg = kube::loadConfig(f.kubeconfig, f.context);
  } catch (const std::exception& e) {
    return fail(kExitConfig, std::string("loading configuration: ") + e.what());
  }
  cfg.qps = f.kubeApiQps;
  cfg.burst = f.kubeApiBurst;
  // The leader-election identity in every request's User-Agent, so the API
  // server's audit log tells which replica wrote what (the reliability
  // suite checks each write against the Lease holder at that time).
  const std::string identity = f.leaderElect ? kube::defaultLeaderIdentity() : "";
  cfg.userAgent = std::string(kProgram) + "/" + kVersion;
  if (!identity.empty()) cfg.userAgent += " (" + identity + ")";

  try {
    const std::string version = checkReachable(cfg);
    kube::log::info("Connected to the API server",
                    {{"server", cfg.server}, {"context", cfg.contextName}, {"version", version}});
  } catch (const std::exception& e) {
    return fail(kExitConfig, "cannot reach the API server at " + cfg.server + ": " + e.what());
  }

  kube::ManagerOptions mo;
  mo.namespace_ = f.namespace_;
  mo.leaderElection = f.leaderElect;
  mo.leaderElectionNamespace = f.leaderElectionNamespace;
  mo.leaderElectionID = f.leaderElectionID;
  mo.leaderElectionIdentity = identity;
  mo.metricsBindAddress = f.metricsBindAddress;
  mo.healthProbeBindAddress = f.healthProbeBindAddress;
  mo.maxConcurrentReconciles = f.maxConcurrentReconciles;

  std::unique_ptr<kube::Manager> mgr;
  try {
    mgr = std::make_unique<kube::Manager>(cfg, mo);
  } catch (const std::exception& e) {
    return fail(kExitConfig, e.what());
  }

  try {
    // Without its CRDs the operator cannot sync its caches: say why at once
    // (it stays not ready, and exits when the cache sync times out).
    if (!mgr->client().isServed("compute.kubec2.io", "v1alpha1", "instances"))
      kube::log::error(
          "The compute.kubec2.io CRDs are not installed: kubectl apply -k crds/ (or install the "
          "Helm chart); the operator waits for them and is not ready meanwhile");
  } catch (const std::exception& e) {
    kube::log::warn("Discovery of compute.kubec2.io failed", {{"error", e.what()}});
  }

  const std::string operatorNs = !f.operatorNamespace.empty()    ? f.operatorNamespace
                                 : !cfg.defaultNamespace.empty() ? cfg.defaultNamespace
                                                                 : "kubec2-system";
  kube::log::info("Operator namespace", {{"namespace", operatorNs},
                                         {"instanceTypesConfigMap", f.instanceTypesConfigMap}});
  // The instance types in force: the Instance controller launches with
  // them, and the webhook warns of types they do not have.
  const auto catalog = std::make_shared<kubec2::controllers::InstanceTypeCatalogSource>(
      *mgr, operatorNs, f.instanceTypesConfigMap);

  // --- Admission webhook ------------------------------------------------
  // Serves in every replica (the API server calls whichever it reaches).
  if (f.webhookBindAddress != "0") {
    if (!f.webhookClientCaFile.empty()) {
      try {
        kubec2::webhook::checkClientCaFile(f.webhookClientCaFile);
      } catch (const std::exception& e) {
        return fail(kExitConfig, e.what());
      }
    }
    kubec2::webhook::ServerOptions so;
    so.bindAddress = f.webhookBindAddress;
    if (f.webhookCertSource == "files") {
      auto files = std::make_shared<kubec2::webhook::CertFiles>(f.webhookCertDir);
      try {
        files->current();
      } catch (const std::exception& e) {
        return fail(kExitConfig, std::string("--webhook-cert-dir: ") + e.what());
      }
      so.certs = [files] { return files->current(); };
    } else {
      kubec2::webhook::CertKeeperOptions ko;
      ko.secretNamespace =
          f.webhookSecretNamespace.empty() ? cfg.defaultNamespace : f.webhookSecretNamespace;
      if (ko.secretNamespace.empty()) {
        return fail(kExitConfig,
                    "--webhook-secret-namespace is needed outside a pod (no namespace in the "
                    "kubeconfig context)");
      }
      ko.secretName = f.webhookSecretName;
      ko.hosts = splitList(f.webhookHosts);
      ko.configurationName = f.webhookConfigurationName;
      ko.period = std::chrono::seconds(f.webhookCaSyncSeconds);
      // Every replica serves the webhook and keeps its certificates, leader
      // or not: writes not bound to the Lease.
      auto keeper = std::make_shared<kubec2::webhook::CertKeeper>(mgr->anyReplicaClient(), ko);
      try {
        keeper->load();
      } catch (const std::exception& e) {
        return fail(kExitConfig, "webhook certificates in Secret " + ko.secretNamespace + "/" +
                                     ko.secretName + ": " + e.what());
      }
      so.certs = [keeper] { return keeper->serving(); };
      mgr->add(kubec2::webhook::makeCertKeeperRunnable(keeper));
    }
    so.clientCaFile = f.webhookClientCaFile;
    so.lookups = std::make_shared<kubec2::webhook::ClusterLookups>(*mgr, catalog);
    // Binds when the manager runs: a busy port fails run() with
    // "--webhook-bind-address ADDR: cannot listen: ...".
    mgr->add(std::make_unique<kubec2::webhook::ServerRunnable>(std::move(so)));
  }

  // --- Controllers -------------------------------------------------------
  kube::EventRecorderOptions eo;
  eo.component = "kubec2";
  kube::EventRecorder events(kube::makeEventSink(mgr->client()), eo);
  kubec2::controllers::LoadBalancerControllerOptions lo;
  lo.ingressClass = f.ingressClass;
  kubec2::controllers::InstanceControllerOptions io;
  try {
    io.deregistration = kubec2::controllers::addLoadBalancerController(*mgr, events, lo);
  } catch (const kube::ApiError& e) {
    return fail(kExitConfig, std::string("load balancers: discovery failed: ") + e.what());
  }
  io.terminatedRetention = std::chrono::seconds(f.terminatedRetentionSeconds);
  kubec2::controllers::addInstanceControllers(*mgr, events, catalog, io);
  kubec2::controllers::addLaunchTemplateController(*mgr, events, "kubec2-launchtemplate");
  try {
    kubec2::controllers::addElasticIPController(*mgr, events);
  } catch (const kube::ApiError& e) {
    return fail(kExitConfig, std::string("elastic IPs: discovery failed: ") + e.what());
  }
  try {
    kubec2::controllers::addSnapshotController(*mgr, events);
  } catch (const kube::ApiError& e) {
    return fail(kExitConfig, std::string("snapshots: discovery failed: ") + e.what());
  }
  kubec2::controllers::ScalingGroupControllerOptions so;
  so.evaluationInterval = std::chrono::seconds(f.scalingEvaluationIntervalSeconds);
  so.scrapeInterval = std::chrono::seconds(f.prometheusScrapeIntervalSeconds);
  so.requestCountMetric = f.requestCountMetric;
  so.instanceStartTimeout = std::chrono::seconds(f.instanceStartTimeoutSeconds);
  if (!f.prometheusUrl.empty()) {
    kube::prom::ClientOptions po;
    po.url = f.prometheusUrl;
    po.caFile = f.prometheusCaFile;
    po.bearerTokenFile = f.prometheusBearerTokenFile;
    po.basicUser = f.prometheusUsername;
    po.basicPasswordFile = f.prometheusPasswordFile;
    po.timeout = std::chrono::seconds(f.prometheusTimeoutSeconds);
    try {
      so.prometheus = std::make_shared<kube::prom::Client>(po);
    } catch (const std::exception& e) {
      return fail(kExitConfig, std::string("--prometheus-url: ") + e.what());
    }
    kube::log::info(
        "Scaling policies read Prometheus",
        {{"url", f.prometheusUrl},
         {"evaluationIntervalSeconds", std::to_string(f.scalingEvaluationIntervalSeconds)},
         {"requestCountMetric", f.requestCountMetric.empty()
                                    ? "none (request count policies do not act)"
                                    : f.requestCountMetric}});
  } else {
    kube::log::info(
        "No --prometheus-url: scaling policies that need metrics report PrometheusNotConfigured");
  }
  kubec2::controllers::addScalingGroupController(*mgr, events, so);
  // -----------------------------------------------------------------------

  const kube::RunResult res = mgr->run(kube::installSignalHandlers().get_token());
  if (res.threadsLeftRunning) {
    // Threads still use the manager: leave without destroying anything.
    spdlog::default_logger_raw()->flush();
    std::fflush(nullptr);
    std::_Exit(1);
  }
  if (!res.ok) {
    kube::log::error("Manager exited with an error", {{"error", res.error}});
    // And one plain line, as for start-up errors: a runnable that fails at
    // once (the webhook's port is busy) is a start-up error to the user.
    return fail(kExitConfig, res.error);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts, so every thread inherits the blocked signals.
  kube::installSignalHandlers();
  // glibc gives each thread that allocates an arena of its own (up to 8 per
  // core); the concurrent writes of a large scale-out then keep tens of MB
  // of arenas resident. Two are plenty for a controller (measured:
  // docs/benchmarks.md, ScalingGroup 0 -> 1,000).
  mallopt(M_ARENA_MAX, 2);

  Flags f;
  po::options_description desc(std::string("Usage: ") + kProgram + " [options]\n\nOptions");
  // clang-format off
  desc.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("kubeconfig", po::value(&f.kubeconfig),
       "path to a kubeconfig; default: $KUBECONFIG, in-cluster, then ~/.kube/config")
      ("context", po::value(&f.context), "kubeconfig context to use (default: current-context)")
      ("namespace", po::value(&f.namespace_), "watch only this namespace (default: all)")
      ("leader-elect", po::bool_switch(&f.leaderElect),
       "enable leader election, so that only one replica reconciles")
      ("leader-election-namespace", po::value(&f.leaderElectionNamespace),
       "namespace of the leader election Lease (default: the pod's namespace)")
      ("leader-election-id", po::value(&f.leaderElectionID)->default_value("kubec2-operator"),
       "name of the leader election Lease")
      ("metrics-bind-address", po::value(&f.metricsBindAddress)->default_value(":8080"),
       "host:port to serve /metrics on; \"0\" disables")
      ("health-probe-bind-address", po::value(&f.healthProbeBindAddress)->default_value(":8081"),
       "host:port to serve /healthz and /readyz on; \"0\" disables")
      ("max-concurrent-reconciles", po::value(&f.maxConcurrentReconciles)->default_value(4),
       "reconciles run at once per controller")
      ("kube-api-qps", po::value(&f.kubeApiQps)->default_value(20.0, "20"),
       "API server requests per second (client-side limit)")
      ("kube-api-burst", po::value(&f.kubeApiBurst)->default_value(30),
       "API server request burst (client-side limit)")
      ("log-level", po::value(&f.logLevel)->default_value("info"), "debug, info, warn or error")
      ("webhook-bind-address", po::value(&f.webhookBindAddress)->default_value(":9443"),
       "host:port to serve the admission webhook (HTTPS) on; \"0\" disables")
      ("webhook-cert-source", po::value(&f.webhookCertSource)->default_value("self-signed"),
       "self-signed: a CA and certificate kept in --webhook-secret-name, CA written into the "
       "webhook configurations; files: tls.crt and tls.key in --webhook-cert-dir (cert-manager)")
      ("webhook-cert-dir",
       po::value(&f.webhookCertDir)->default_value("/tmp/k8s-webhook-server/serving-certs"),
       "folder with tls.crt and tls.key (--webhook-cert-source=files)")
      ("webhook-secret-name", po::value(&f.webhookSecretName)->default_value("kubec2-webhook-tls"),
       "Secret holding the self-signed CA and certificate")
      ("webhook-secret-namespace", po::value(&f.webhookSecretNamespace),
       "namespace of that Secret (default: the pod's namespace)")
      ("webhook-hosts",
       po::value(&f.webhookHosts)->default_value("kubec2-webhook.kubec2-system.svc"),
       "comma-separated DNS names and IP addresses the self-signed certificate is valid for")
      ("webhook-configuration-name",
       po::value(&f.webhookConfigurationName)->default_value("kubec2"),
       "Validating- and MutatingWebhookConfiguration whose caBundle the operator writes")
      ("webhook-client-ca-file", po::value(&f.webhookClientCaFile),
       "PEM CA bundle: the webhook then requires every caller to present a client "
       "certificate signed by it (the API server's, from its admission "
       "webhook kubeconfig; docs/admission-webhook.md) and refuses the TLS handshake "
       "otherwise; re-read for each connection (default: none, no client certificate "
       "asked for)")
      ("operator-namespace", po::value(&f.operatorNamespace),
       "the operator's own namespace, for its ConfigMaps (default: in a pod, the pod's "
       "namespace; out of cluster, the kubeconfig context's namespace, which is \"default\" "
       "when the context names none, as kubectl reads it)")
      ("instance-types-configmap",
       po::value(&f.instanceTypesConfigMap)->default_value("kubec2-instance-types"),
       "ConfigMap in the operator's namespace that adds or overrides instance types "
       "(docs/instances.md)")
      ("terminated-instance-retention-seconds",
       po::value(&f.terminatedRetentionSeconds)->default_value(60),
       "how long a terminated Instance stays visible (state terminated) before it is removed")
      ("instance-start-timeout-seconds",
       po::value(&f.instanceStartTimeoutSeconds)->default_value(300),
       "the least time a ScalingGroup's instance still launching gets before the group counts it "
       "as failing to start and replaces it, whatever its health check grace period "
       "(docs/scaling-groups.md)")
      ("webhook-ca-sync-seconds", po::value(&f.webhookCaSyncSeconds)->default_value(60),
       "how often the self-signed Secret and the configurations' caBundle are checked and "
       "repaired")
      ("ingress-class", po::value(&f.ingressClass),
       "ingressClassName of the Ingresses of application LoadBalancers (default: none, the "
       "cluster's default IngressClass); a LoadBalancer's annotation "
       "compute.kubec2.io/ingress-class overrides it")
      ("prometheus-url", po::value(&f.prometheusUrl),
       "Prometheus to read scaling policies' metrics from, http(s)://HOST:PORT[/PREFIX] "
       "(no default: without it, policies that need metrics report ScalingActive False, "
       "PrometheusNotConfigured, and never act)")
      ("prometheus-ca-file", po::value(&f.prometheusCaFile),
       "PEM CA bundle to verify Prometheus's certificate with (default: the system's)")
      ("prometheus-bearer-token-file", po::value(&f.prometheusBearerTokenFile),
       "file holding a bearer token for Prometheus, re-read as it rotates")
      ("prometheus-username", po::value(&f.prometheusUsername),
       "basic auth user for Prometheus (with --prometheus-password-file)")
      ("prometheus-password-file", po::value(&f.prometheusPasswordFile),
       "file holding the basic auth password for Prometheus")
      ("prometheus-timeout-seconds", po::value(&f.prometheusTimeoutSeconds)->default_value(10),
       "seconds a Prometheus query may take before it counts as failed (PrometheusTimeout)")
      ("prometheus-scrape-interval-seconds",
       po::value(&f.prometheusScrapeIntervalSeconds)->default_value(30),
       "the scrape interval of the VM metrics in Prometheus: rate() windows span at least "
       "four of them")
      ("scaling-evaluation-interval",
       po::value(&f.scalingEvaluationIntervalSeconds)->default_value(60),
       "seconds between evaluations of the scaling policies (CloudWatch's one-minute period; "
       "tests and the demo use a few seconds)")
      ("request-count-metric", po::value(&f.requestCountMetric),
       "Prometheus counter of the requests each instance answered, labelled as KubeVirt's VMI "
       "metrics (namespace, name, the group label), read by ALBRequestCountPerTarget and "
       "ALBRequestCount policies (no default: without it they report ScalingActive False, "
       "RequestCountMetricNotConfigured, and never act; the simulator's is "
       "kubec2_sim_http_requests_total; docs/scaling-policies.md)");
  // clang-format on

  if (const auto done = kube::cli::parse(argc, argv, desc, kProgram, kVersion, f.logLevel))
    return *done;
  try {
    if (f.maxConcurrentReconciles < 1) {
      throw std::invalid_argument("--max-concurrent-reconciles must be at least 1");
    }
    if (!(f.kubeApiQps > 0)) throw std::invalid_argument("--kube-api-qps must be positive");
    if (f.kubeApiBurst < 1) throw std::invalid_argument("--kube-api-burst must be at least 1");
    if (f.leaderElectionID.empty()) {
      throw std::invalid_argument("--leader-election-id must not be empty");
    }
    validateBindFlag(f.metricsBindAddress, "--metrics-bind-address");
    validateBindFlag(f.healthProbeBindAddress, "--health-probe-bind-address");
    validateBindFlag(f.webhookBindAddress, "--webhook-bind-address");
    if (f.webhookCertSource != "self-signed" && f.webhookCertSource != "files") {
      throw std::invalid_argument("--webhook-cert-source must be self-signed or files, not \"" +
                                  f.webhookCertSource + "\"");
    }
    if (f.scalingEvaluationIntervalSeconds < 1 || f.scalingEvaluationIntervalSeconds > 3600)
      throw std::invalid_argument("--scaling-evaluation-interval must be 1 to 3600 seconds");
    if (f.prometheusTimeoutSeconds < 1 || f.prometheusTimeoutSeconds > 300)
      throw std::invalid_argument("--prometheus-timeout-seconds must be 1 to 300");
    if (f.prometheusScrapeIntervalSeconds < 1 || f.prometheusScrapeIntervalSeconds > 3600)
      throw std::invalid_argument("--prometheus-scrape-interval-seconds must be 1 to 3600");
    if (f.terminatedRetentionSeconds < 0 || f.terminatedRetentionSeconds > 86400) {
      throw std::invalid_argument("--terminated-instance-retention-seconds must be 0 to 86400");
    }
    if (f.instanceStartTimeoutSeconds < 1 || f.instanceStartTimeoutSeconds > 86400)
      throw std::invalid_argument("--instance-start-timeout-seconds must be 1 to 86400");
    if (f.webhookCaSyncSeconds < 1 || f.webhookCaSyncSeconds > 86400) {
      throw std::invalid_argument("--webhook-ca-sync-seconds must be 1 to 86400");
    }
    if (!f.requestCountMetric.empty() && !kubec2::reconcilers::isMetricName(f.requestCountMetric))
      throw std::invalid_argument(
          "--request-count-metric must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), "
          "not \"" +
          f.requestCountMetric + "\"");
    if (f.webhookCertSource == "self-signed" && splitList(f.webhookHosts).empty()) {
      throw std::invalid_argument("--webhook-hosts must name at least one host");
    }
  } catch (const std::exception& e) {
    return fail(kExitUsage, e.what());
  }

  try {
    return runOperator(f);
  } catch (const std::exception& e) {
    return fail(kExitConfig, e.what());
  }
}
