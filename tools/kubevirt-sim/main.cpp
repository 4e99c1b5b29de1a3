// kubec2-kubevirt-sim: a KubeVirt simulator for tests and demos. It plays
// virt-controller and virt-handler on a control plane without nodes (no
// kubelet, no KubeVirt), as kwok simulates nodes. See README.md.
//
// Exit codes: 0 after SIGTERM/SIGINT; 1 for configuration and start-up
// errors (bad kubeconfig, unreachable server, KubeVirt CRDs missing, busy
// port); 2 for usage errors.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "runtime/client.h"
#include "runtime/command_line.h"
#include "runtime/config.h"
#include "runtime/health_server.h"
#include "runtime/http_transport.h"
#include "runtime/log.h"
#include "runtime/manager.h"
#include "tools/kubevirt-sim/simulator.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kProgram = "kubec2-kubevirt-sim";
constexpr const char* kVersion = "0.1.0";
constexpr int kExitConfig = 1;
constexpr int kExitUsage = kube::cli::kExitUsage;

struct Flags {
  std::string kubeconfig;
  std::string context;
  std::string namespace_;
  std::string nodes;
  long bootDelayMs = 2000;
  long snapshotDelayMs = 0;
  std::string httpPorts;
  std::string healthPath;
  std::string controlBindAddress;
  std::string ipRangeStart;
  int workers = 4;
  double kubeApiQps = 200;
  int kubeApiBurst = 400;
  std::string logLevel;
};

int fail(int code, const std::string& msg) {
  return kube::cli::fail(kProgram, code, msg);
}

std::vector<int> parsePorts(const std::string& s) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      if (item.find_first_not_of("0123456789") != std::string::npos || item.size() > 5)
        throw std::invalid_argument("--http-ports: \"" + item + "\" is not a port number");
      const int p = std::stoi(item);
      if (p < 1 || p > 65535)
        throw std::invalid_argument("--http-ports: " + item + " is not in 1..65535");
      out.push_back(p);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Every VMI port is a listening socket: lift the soft limit on open files to
// the hard one so that a thousand VMs fit.
void raiseFileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int run(const Flags& f, kubec2::sim::SimulatorOptions base) {
  kube::globalInit();
  raiseFileLimit();
  kube::RestConfig cfg;
  try {
    cfg = kube::loadConfig(f.kubeconfig, f.context);
  } catch (const std::exception& e) {
    return fail(kExitConfig, std::string("loading configuration: ") + e.what());
  }
  cfg.qps = f.kubeApiQps;
  cfg.burst = f.kubeApiBurst;
  try {
    kube::RestConfig probeCfg = cfg;
    probeCfg.maxRetries = 0;
    kube::RestClient probe(probeCfg);
    for (const char* r : {"virtualmachines", "virtualmachineinstances"}) {
      if (!probe.isServed("kubevirt.io", "v1", r)) {
        return fail(kExitConfig, std::string("the API server does not serve kubevirt.io/v1 ") + r +
                                     ": install KubeVirt's CRDs first (third_party/kubevirt/crds)");
      }
    }
    // The storage side: each part only when its API is served, said once.
    base.cdi = probe.isServed("cdi.kubevirt.io", "v1beta1", "datavolumes");
    base.snapshots = probe.isServed("snapshot.storage.k8s.io", "v1", "volumesnapshots") &&
                     probe.isServed("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses") &&
                     probe.isServed("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents");
    const bool vmSnapshots =
        probe.isServed("snapshot.kubevirt.io", "v1beta1", "virtualmachinesnapshots") &&
        probe.isServed("snapshot.kubevirt.io", "v1beta1", "virtualmachinesnapshotcontents");
    base.vmSnapshots = vmSnapshots && base.snapshots;
    kube::log::info(
        "Storage played (test tool)",
        {{"cdi", base.cdi ? "played: DataVolumes -> Bound claims, VMs wait for their DataVolumes"
                          : "not played: cdi.kubevirt.io/v1beta1 datavolumes not served"},
         {"snapshots", base.snapshots
                           ? "played: snapshot-controller and CSI driver " +
                                 std::string(kubec2::sim::kSimCsiDriver)
                           : std::string("not played: snapshot.storage.k8s.io/v1 not served")},
         {"vmSnapshots", base.vmSnapshots
                             ? "played: VirtualMachineSnapshots -> contents and VolumeSnapshots"
                         : vmSnapshots ? "not played: snapshot.kubevirt.io/v1beta1 is served but "
                                         "snapshot.storage.k8s.io/v1 is not"
                                       : "not played: snapshot.kubevirt.io/v1beta1 not served"}});
  } catch (const std::exception& e) {
    return fail(kExitConfig, "cannot reach the API server at " + cfg.server + ": " + e.what());
  }

  kube::ManagerOptions mo;
  mo.namespace_ = f.namespace_;
  mo.metricsBindAddress = "0";  // /metrics is served on --control-bind-address
  mo.healthProbeBindAddress = "0";
  mo.maxConcurrentReconciles = f.workers;
  std::unique_ptr<kube::Manager> mgr;
  try {
    mgr = std::make_unique<kube::Manager>(cfg, mo);
  } catch (const std::exception& e) {
    return fail(kExitConfig, e.what());
  }

  auto sim = std::make_unique<kubec2::sim::Simulator>(*mgr, base);
  try {
    sim->ensureNodes();
  } catch (const std::exception& e) {
    return fail(kExitConfig, std::string("creating the simulated nodes: ") + e.what());
  }
  mgr->add(sim->nodeHeartbeat());

  int controlPort = 0;
  try {
    const kube::BindAddress ba =
        kube::parseBindAddress(f.controlBindAddress, "--control-bind-address");
    auto* s = sim.get();
    controlPort = sim->servers()
                      .listen(ba.host.empty() ? "0.0.0.0" : ba.host, ba.port,
                              [s](const kubec2::sim::HttpRequest& r) {
                                return kubec2::sim::handleControl(*s, r);
                              })
                      .port;
  } catch (const std::exception& e) {
    return fail(kExitConfig, std::string("--control-bind-address: ") + e.what());
  }
  sim->servers().start();
  kube::log::info("Simulator started",
                  {{"server", cfg.server},
                   {"namespace", f.namespace_.empty() ? "(all)" : f.namespace_},
                   {"controlPort", controlPort},
                   {"bootDelayMs", f.bootDelayMs},
                   {"nodes", f.nodes}});

  const kube::RunResult res = mgr->run(kube::installSignalHandlers().get_token());
  sim->servers().stop();
  if (res.threadsLeftRunning) {
    spdlog::default_logger_raw()->flush();
    std::fflush(nullptr);
    std::_Exit(1);
  }
  if (!res.ok) {
    kube::log::error("Simulator stopped with an error", {{"error", res.error}});
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  kube::installSignalHandlers();

  Flags f;
  po::options_description desc(
      std::string("Usage: ") + kProgram +
      " [options]\n\n"
      "A KubeVirt simulator for TESTS AND DEMOS ONLY. It plays virt-controller and\n"
      "virt-handler on a control plane without nodes (no kubelet, no KubeVirt), as kwok\n"
      "simulates nodes: it creates simulated Nodes, makes kubevirt.io/v1 VirtualMachines\n"
      "\"run\" by creating their VirtualMachineInstances and moving them through\n"
      "Pending -> Scheduling -> Scheduled -> Running, gives each running VMI a loopback\n"
      "address (127.1.0.1 upward) on which it serves HTTP, keeps the VMs' status as\n"
      "KubeVirt does, and exports per-VMI metrics driven by a load model. No virtual\n"
      "machine ever runs. Never point it at a cluster where KubeVirt is installed.\n"
      "Where their APIs are served it also plays CDI (DataVolumes and their claims) and\n"
      "the CSI snapshot-controller with a CSI driver (VolumeSnapshots) and KubeVirt's\n"
      "snapshot controller (VirtualMachineSnapshots): never point it at a cluster where\n"
      "those run either.\n\n"
      "Control API (JSON over HTTP on --control-bind-address; see README.md):\n"
      "  PUT  /load    {namespace, group | name, cpu, networkInBytesPerSecond,\n"
      "                 networkOutBytesPerSecond}   demand spread over a group's VMIs\n"
      "  POST /faults  {namespace, name, fault: crash | hang-boot | fail-health |\n"
      "                 hang-health | slow-boot, bootDelayMs}\n"
      "                or  {namespace, name, clear: true}\n"
      "  GET  /vms     GET /load     GET /metrics     GET /healthz\n\n"
      "Options");
  // clang-format off
  desc.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("kubeconfig", po::value(&f.kubeconfig),
       "path to a kubeconfig; default: $KUBECONFIG, in-cluster, then ~/.kube/config")
      ("context", po::value(&f.context), "kubeconfig context to use (default: current-context)")
      ("namespace", po::value(&f.namespace_),
       "simulate only VMs in this namespace (default: all namespaces)")
      ("nodes", po::value(&f.nodes)->default_value(
           "kubec2-sim-node-a=us-east-1a,kubec2-sim-node-b=us-east-1b,"
           "kubec2-sim-node-c=us-east-1c"),
       "simulated nodes, NAME=ZONE,...: created or updated as v1 Nodes labelled "
       "topology.kubernetes.io/zone, kubernetes.io/hostname and "
       "kubevirt-sim.kubec2.io/simulated=true, reported Ready (heartbeat every 10 s); VMIs "
       "are placed round robin on the nodes their nodeSelector and required node affinity "
       "allow")
      ("boot-delay-ms", po::value(&f.bootDelayMs)->default_value(2000),
       "time from VMI creation to Running, in thirds: Pending, Scheduling, Scheduled. "
       "0 goes straight to Running in one status write (1 VMI create + 1 VMI status + 1 VM "
       "status per VM)")
      ("snapshot-delay-ms", po::value(&f.snapshotDelayMs)->default_value(0),
       "when snapshot.storage.k8s.io/v1 is served: time from a VolumeSnapshot's cut "
       "(creationTime, readyToUse false) to readyToUse true")
      ("http-ports", po::value(&f.httpPorts)->default_value("80"),
       "comma-separated TCP ports every running VMI serves HTTP on, besides the TCP ports "
       "in its template's interfaces[].ports; empty: only those")
      ("health-path", po::value(&f.healthPath)->default_value("/healthz"),
       "path answering 200 \"ok\" (503 under the fail-health fault); any other path answers "
       "200 with a line naming the VMI; under hang-health no path answers")
      ("control-bind-address", po::value(&f.controlBindAddress)->default_value("127.0.0.1:8091"),
       "host:port of the control API and GET /metrics (per-VMI metrics with KubeVirt's "
       "names and labels)")
      ("ip-range-start", po::value(&f.ipRangeStart)->default_value("127.1.0.1"),
       "first loopback address given to VMIs; addresses go upward, skip .0 and .255, and "
       "are never shared while in use (an address another process holds is skipped)")
      ("workers", po::value(&f.workers)->default_value(4), "VMs reconciled at once")
      ("kube-api-qps", po::value(&f.kubeApiQps)->default_value(200.0, "200"),
       "API server requests per second (client-side limit)")
      ("kube-api-burst", po::value(&f.kubeApiBurst)->default_value(400),
       "API server request burst (client-side limit)")
      ("log-level", po::value(&f.logLevel)->default_value("info"), "debug, info, warn or error");
  // clang-format on

  if (const auto done = kube::cli::parse(argc, argv, desc, kProgram, kVersion, f.logLevel))
    return *done;

  kubec2::sim::SimulatorOptions opts;
  try {
    if (f.bootDelayMs < 0 || f.bootDelayMs > 3600000)
      throw std::invalid_argument("--boot-delay-ms must be 0 to 3600000");
    if (f.snapshotDelayMs < 0 || f.snapshotDelayMs > 3600000)
      throw std::invalid_argument("--snapshot-delay-ms must be 0 to 3600000");
    if (f.workers < 1 || f.workers > 256) throw std::invalid_argument("--workers must be 1 to 256");
    if (!(f.kubeApiQps > 0)) throw std::invalid_argument("--kube-api-qps must be positive");
    if (f.kubeApiBurst < 1) throw std::invalid_argument("--kube-api-burst must be at least 1");
    if (f.healthPath.empty() || f.healthPath[0] != '/')
      throw std::invalid_argument("--health-path must start with /");
    kube::parseBindAddress(f.controlBindAddress, "--control-bind-address");
    try {
      opts.nodes = kubec2::sim::parseNodes(f.nodes);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("--nodes: ") + e.what());
    }
    opts.httpPorts = parsePorts(f.httpPorts);
    try {
      kubec2::sim::IpAllocator check(f.ipRangeStart);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("--ip-range-start: ") + e.what());
    }
  } catch (const std::exception& e) {
    return fail(kExitUsage, e.what());
  }
  opts.namespace_ = f.namespace_;
  opts.bootDelay = std::chrono::milliseconds(f.bootDelayMs);
  opts.snapshotDelay = std::chrono::milliseconds(f.snapshotDelayMs);
  opts.healthPath = f.healthPath;
  opts.ipStart = f.ipRangeStart;
  opts.workers = f.workers;

  try {
    return run(f, opts);
  } catch (const std::exception& e) {
    return fail(kExitConfig, e.what());
  }
}
