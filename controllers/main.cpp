// kubec2-operator: flags, configuration, the manager, and (in later issues)
// the controllers.
//
// Exit codes: 0 after a graceful stop; 1 for configuration and start-up
// errors (bad kubeconfig, unreachable server, busy port) and when the manager
// fails (leader election lost, a controller failed); 2 for usage errors.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "runtime/client.h"
#include "runtime/config.h"
#include "runtime/errors.h"
#include "runtime/health_server.h"
#include "runtime/log.h"
#include "runtime/manager.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kProgram = "kubec2-operator";
constexpr const char* kVersion = "0.1.0";

constexpr int kExitConfig = 1;
constexpr int kExitUsage = 2;

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
};

// One line on stderr, for errors before (or instead of) structured logging.
int fail(int code, const std::string& msg) {
  std::cerr << kProgram << ": " << msg << "\n";
  return code;
}

// GET /version once, without the client's retries, so that a wrong server
// address fails start-up within one request timeout instead of after minutes.
std::string checkReachable(kube::RestConfig cfg) {
  cfg.maxRetries = 0;
  kube::Client probe(std::move(cfg));
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
  mo.metricsBindAddress = f.metricsBindAddress;
  mo.healthProbeBindAddress = f.healthProbeBindAddress;
  mo.maxConcurrentReconciles = f.maxConcurrentReconciles;

  std::unique_ptr<kube::Manager> mgr;
  try {
    mgr = std::make_unique<kube::Manager>(cfg, mo);
  } catch (const std::exception& e) {
    return fail(kExitConfig, e.what());
  }

  // --- Controllers -------------------------------------------------------
  // Register controllers here, before run(), e.g.:
  //   auto& instances = mgr->informer<api::Instance>(api::instanceResource());
  //   kube::ControllerBuilder(*mgr, "instance")
  //       .forResource(instances)
  //       .owns(vms, "Instance", "compute.kubec2.io/v1alpha1")
  //       .complete(std::make_shared<InstanceReconciler>(...));
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
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts, so every thread inherits the blocked signals.
  kube::installSignalHandlers();

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
      ("log-level", po::value(&f.logLevel)->default_value("info"), "debug, info, warn or error");
  // clang-format on

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(kExitUsage, std::string(e.what()) + " (see --help)");
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << kProgram << " " << kVersion << "\n";
    return 0;
  }
  try {
    kube::log::setup(f.logLevel);
  } catch (const std::exception& e) {
    return fail(kExitUsage, std::string("--log-level: ") + e.what());
  }
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
  } catch (const std::exception& e) {
    return fail(kExitUsage, e.what());
  }

  try {
    return runOperator(f);
  } catch (const std::exception& e) {
    return fail(kExitConfig, e.what());
  }
}
