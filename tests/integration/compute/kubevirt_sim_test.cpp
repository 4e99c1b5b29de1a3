// The KubeVirt simulator (tools/kubevirt-sim) against the real API server
// with KubeVirt's CRDs: VMs written as a user would write them (checked
// against KubeVirt's schema) run, get an address and a node, serve HTTP,
// export metrics, stop, crash and come back. Each test runs its own
// simulator process on a fresh namespace, so tests do not see each other.
#include <curl/curl.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/client.h"
#include "runtime/errors.h"
#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/http.h"
#include "tests/integration/webhook_env.h"

#ifndef KUBEC2_SIM_BIN
#error "KUBEC2_SIM_BIN must name the simulator binary"
#endif

namespace kube::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const Resource kVms{"kubevirt.io", "v1", "virtualmachines", true, "VirtualMachine"};
const Resource kVmis{"kubevirt.io", "v1", "virtualmachineinstances", true,
                     "VirtualMachineInstance"};
const Resource kNodes{"", "v1", "nodes", false, "Node"};
const Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", true, "DataVolume"};
const Resource kClaims{"", "v1", "persistentvolumeclaims", true, "PersistentVolumeClaim"};
const Resource kSnapshots{"snapshot.storage.k8s.io", "v1", "volumesnapshots", true,
                          "VolumeSnapshot"};
const Resource kSnapshotClasses{"snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", false,
                                "VolumeSnapshotClass"};
const Resource kSnapshotContents{"snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", false,
                                 "VolumeSnapshotContent"};
const Resource kVmSnapshots{"snapshot.kubevirt.io", "v1beta1", "virtualmachinesnapshots", true,
                            "VirtualMachineSnapshot"};
const Resource kVmSnapshotContents{"snapshot.kubevirt.io", "v1beta1",
                                   "virtualmachinesnapshotcontents", true,
                                   "VirtualMachineSnapshotContent"};

struct VmOptions {
  std::string runStrategy = "Always";
  std::string group;  // compute.kubec2.io/scaling-group
  std::string zone;   // required node affinity on topology.kubernetes.io/zone
  int extraPort = 0;  // interfaces[].ports

  VmOptions& strategy(std::string s) { return runStrategy = std::move(s), *this; }
  VmOptions& inGroup(std::string g) { return group = std::move(g), *this; }
  VmOptions& inZone(std::string z) { return zone = std::move(z), *this; }
  VmOptions& port(int p) { return extraPort = p, *this; }
};

// A VirtualMachine as the operator writes one: runStrategy, domain cpu and
// memory, virtio disks, masquerade interface, pod network, containerDisk and
// cloudInitNoCloud volumes.
json vmJson(const std::string& name, const VmOptions& o = {}) {
  json labels = {{"app", "sim-test"}, {"compute.kubec2.io/instance", name}};
  if (!o.group.empty()) labels["compute.kubec2.io/scaling-group"] = o.group;
  json iface = {{"name", "default"}, {"masquerade", json::object()}};
  if (o.extraPort) iface["ports"] = json::array({{{"name", "app"}, {"port", o.extraPort}}});
  json spec = {
      {"domain",
       {{"cpu", {{"cores", 2}, {"sockets", 1}, {"threads", 1}}},
        {"memory", {{"guest", "1Gi"}}},
        {"resources", {{"requests", {{"memory", "1Gi"}}}}},
        {"devices",
         {{"disks", json::array({{{"name", "root"}, {"disk", {{"bus", "virtio"}}}},
                                 {{"name", "cloudinit"}, {"disk", {{"bus", "virtio"}}}}})},
          {"interfaces", json::array({iface})}}}}},
      {"networks", json::array({{{"name", "default"}, {"pod", json::object()}}})},
      {"volumes",
       json::array(
           {{{"name", "root"}, {"containerDisk", {{"image", "quay.io/containerdisks/fedora:40"}}}},
            {{"name", "cloudinit"}, {"cloudInitNoCloud", {{"userData", "#cloud-config\n"}}}}})}};
  if (!o.zone.empty()) {
    spec["affinity"] = {
        {"nodeAffinity",
         {{"requiredDuringSchedulingIgnoredDuringExecution",
           {{"nodeSelectorTerms",
             json::array({{{"matchExpressions",
                            json::array({{{"key", "topology.kubernetes.io/zone"},
                                          {"operator", "In"},
                                          {"values", json::array({o.zone})}}})}}})}}}}}};
  }
  return {{"apiVersion", "kubevirt.io/v1"},
          {"kind", "VirtualMachine"},
          // The same labels on the VM, as the operator writes them: the
          // test CRD prunes spec.template.metadata (see tools/kubevirt-sim).
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec",
           {{"runStrategy", o.runStrategy},
            {"template", {{"metadata", {{"labels", labels}}}, {"spec", spec}}}}}};
}

std::string field(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return "";
    cur = &(*cur)[k];
  }
  return cur->is_string() ? cur->get<std::string>() : (cur->is_null() ? "" : cur->dump());
}

class KubevirtSim : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<RestClient>(adminConfig());
    ns_ = createNamespace(*client_, "sim");
    startSimulator();
  }
  void TearDown() override {
    if (HasFailure() && sim_) std::cerr << "--- simulator log ---\n" << sim_->output() << "\n";
    sim_.reset();  // SIGKILL if still running
  }

  void startSimulator() {
    static int n = 0;
    port_ = freePort();
    // A range of our own, so that another simulator of this binary (or a
    // test run beside it) rarely contends for addresses; contention is
    // handled anyway (a busy address is skipped).
    const std::string ipStart = "127." + std::to_string(100 + ::getpid() % 100) + "." +
                                std::to_string((++n * 7) % 250) + ".1";
    if (ipStart_.empty()) ipStart_ = ipStart;
    sim_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            KUBEC2_SIM_BIN, "--kubeconfig", ControlPlaneEnvironment::get().kubeconfig(),
            "--namespace", ns_, "--boot-delay-ms", "300", "--control-bind-address",
            "127.0.0.1:" + std::to_string(port_), "--ip-range-start", ipStart_,
            "--snapshot-delay-ms", std::to_string(snapshotDelayMs_), "--log-level", "debug"},
        ControlPlaneEnvironment::get().dir() + "/kubevirt-sim-" + ns_ + ".log");
    ASSERT_TRUE(eventually([&] { return http("GET", control("/healthz")).first == 200; }, 30s))
        << sim_->output();
  }

  std::string control(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  json vm(const std::string& name) { return client_->get(kVms, ns_, name); }
  std::optional<json> vmi(const std::string& name) {
    try {
      return client_->get(kVmis, ns_, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return std::nullopt;
      throw;
    }
  }
  std::string vmiPhase(const std::string& name) {
    auto v = vmi(name);
    return v ? field(*v, {"status", "phase"}) : "";
  }
  std::string printable(const std::string& name) {
    return field(vm(name), {"status", "printableStatus"});
  }
  std::string ipOf(const json& v) {
    const json& ifaces = v["status"]["interfaces"];
    return ifaces.is_array() && !ifaces.empty() ? ifaces[0].value("ipAddress", "") : "";
  }
  // Waits for the VMI to run and the VM to say so; returns the VMI.
  json waitRunning(const std::string& name) {
    EXPECT_TRUE(eventually([&] {
      return vmiPhase(name) == "Running" && printable(name) == "Running";
    })) << "phase "
        << vmiPhase(name) << ", printableStatus " << printable(name);
    return vmi(name).value_or(json::object());
  }
  json vmsList() { return json::parse(http("GET", control("/vms")).second, nullptr, false); }

  std::unique_ptr<RestClient> client_;
  std::string ns_;
  int port_ = 0;
  std::string ipStart_;
  long snapshotDelayMs_ = 0;
  std::unique_ptr<ChildProcess> sim_;

  // ---- Storage (CDI, VolumeSnapshots) ----
  std::optional<json> getOpt(const Resource& r, const std::string& ns, const std::string& name) {
    try {
      return client_->get(r, ns, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return std::nullopt;
      throw;
    }
  }
  json blankDataVolume(const std::string& name, const std::string& size) {
    return {{"apiVersion", "cdi.kubevirt.io/v1beta1"},
            {"kind", "DataVolume"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"source", {{"blank", json::object()}}},
              {"storage", {{"resources", {{"requests", {{"storage", size}}}}}}}}}};
  }
  json snapshotJson(const std::string& name, const std::string& claim,
                    const std::string& cls = "") {
    json s = {{"apiVersion", "snapshot.storage.k8s.io/v1"},
              {"kind", "VolumeSnapshot"},
              {"metadata", {{"name", name}}},
              {"spec", {{"source", {{"persistentVolumeClaimName", claim}}}}}};
    if (!cls.empty()) s["spec"]["volumeSnapshotClassName"] = cls;
    return s;
  }
  // third_party/external-snapshotter/examples/volumesnapshotclass-sim.yaml
  // (cluster-scoped: shared by the tests, created once).
  void ensureDefaultSnapshotClass() {
    try {
      client_->create(
          kSnapshotClasses, "",
          {{"apiVersion", "snapshot.storage.k8s.io/v1"},
           {"kind", "VolumeSnapshotClass"},
           {"metadata",
            {{"name", "kubec2-sim-snapshots"},
             {"annotations", {{"snapshot.storage.kubernetes.io/is-default-class", "true"}}}}},
           {"driver", "kubevirt-sim.kubec2.io"},
           {"deletionPolicy", "Delete"}});
    } catch (const ApiError& e) {
      if (!e.isAlreadyExists()) throw;
    }
  }
  std::string condition(const json& obj, const std::string& type, const char* what) {
    for (const auto& c : obj["status"].value("conditions", json::array()))
      if (c.value("type", "") == type) return c.value(what, "");
    return "";
  }
};

TEST_F(KubevirtSim, RunsVmsOnSimulatedNodesWithAddressesAndHttp) {
  // The nodes exist, labelled with their zones, and are Ready.
  const json node = client_->get(kNodes, "", "kubec2-sim-node-b");
  EXPECT_EQ(node["metadata"]["labels"]["topology.kubernetes.io/zone"], "us-east-1b");
  EXPECT_EQ(node["metadata"]["labels"]["kubernetes.io/hostname"], "kubec2-sim-node-b");
  bool ready = false;
  for (const auto& c : node["status"]["conditions"])
    if (c["type"] == "Ready") ready = c["status"] == "True";
  EXPECT_TRUE(ready);

  const json created = client_->create(
      kVms, ns_, vmJson("web-1", VmOptions().inGroup("web").inZone("us-east-1b").port(8080)));
  client_->create(kVms, ns_, vmJson("web-2", VmOptions().inGroup("web")));

  const json v = waitRunning("web-1");
  EXPECT_EQ(field(v, {"status", "nodeName"}), "kubec2-sim-node-b");  // the zone is honoured
  EXPECT_EQ(v["metadata"]["labels"]["kubevirt.io/nodeName"], "kubec2-sim-node-b");
  EXPECT_EQ(v["metadata"]["labels"]["compute.kubec2.io/scaling-group"], "web");
  ASSERT_EQ(v["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(v["metadata"]["ownerReferences"][0]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(v["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(v["spec"]["domain"]["cpu"]["cores"], 2);
  const std::string ip = ipOf(v);
  ASSERT_EQ(ip.rfind("127.", 0), 0u) << v.dump();
  EXPECT_EQ(v["status"]["interfaces"][0]["name"], "default");
  EXPECT_EQ(v["status"]["interfaces"][0]["ipAddresses"], json::array({ip}));

  const json vmNow = vm("web-1");
  EXPECT_EQ(vmNow["status"]["ready"], true);
  EXPECT_EQ(vmNow["status"]["created"], true);

  const json v2 = waitRunning("web-2");
  EXPECT_NE(ipOf(v2), ip);

  // Real sockets: the health path on port 80, and the template's port.
  auto [code, body] = http("GET", "http://" + ip + ":80/healthz");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body, "ok");
  auto [code2, body2] = http("GET", "http://" + ip + ":8080/anything");
  EXPECT_EQ(code2, 200);
  EXPECT_NE(body2.find("web-1"), std::string::npos) << body2;

  // fail-health: the health path answers 503 until cleared.
  auto [fc, fb] =
      http("POST", control("/faults"),
           json{{"namespace", ns_}, {"name", "web-1"}, {"fault", "fail-health"}}.dump());
  EXPECT_EQ(fc, 200) << fb;
  EXPECT_EQ(http("GET", "http://" + ip + ":80/healthz").first, 503);
  EXPECT_EQ(http("GET", "http://" + ip + ":80/").first, 200);
  json list = vmsList();
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[0]["name"], "web-1");
  EXPECT_EQ(list[0]["ip"], ip);
  EXPECT_EQ(list[0]["node"], "kubec2-sim-node-b");
  EXPECT_EQ(list[0]["phase"], "Running");
  EXPECT_EQ(list[0]["healthy"], false);
  EXPECT_EQ(list[0]["faults"], json::array({"fail-health"}));
  EXPECT_EQ(list[0]["ports"], json::array({80, 8080}));
  EXPECT_EQ(http("POST", control("/faults"),
                 json{{"namespace", ns_}, {"name", "web-1"}, {"clear", true}}.dump())
                .first,
            200);
  EXPECT_EQ(http("GET", "http://" + ip + ":80/healthz").first, 200);

  // hang-health: connections are accepted and never answered (http() gives
  // up after 3 s: status 0), until cleared.
  EXPECT_EQ(http("POST", control("/faults"),
                 json{{"namespace", ns_}, {"name", "web-1"}, {"fault", "hang-health"}}.dump())
                .first,
            200);
  EXPECT_EQ(http("GET", "http://" + ip + ":8080/anything").first, 0);
  list = vmsList();
  EXPECT_EQ(list[0]["healthy"], false);
  EXPECT_EQ(list[0]["faults"], json::array({"hang-health"}));
  EXPECT_EQ(http("POST", control("/faults"),
                 json{{"namespace", ns_}, {"name", "web-1"}, {"clear", true}}.dump())
                .first,
            200);
  EXPECT_EQ(http("GET", "http://" + ip + ":80/healthz").first, 200);
}

TEST_F(KubevirtSim, ExportsKubevirtMetricsDrivenByLoad) {
  client_->create(kVms, ns_, vmJson("api-1", VmOptions().inGroup("api")));
  client_->create(kVms, ns_, vmJson("api-2", VmOptions().inGroup("api")));
  const std::string ip = ipOf(waitRunning("api-1"));
  waitRunning("api-2");
  EXPECT_EQ(http("GET", "http://" + ip + "/").first, 200);

  const std::string metrics = http("GET", control("/metrics")).second;
  const std::string labels = "namespace=\"" + ns_ + "\",name=\"api-1\"";
  for (const char* name :
       {"kubevirt_vmi_cpu_usage_seconds_total{", "kubevirt_vmi_vcpu_seconds_total{",
        "kubevirt_vmi_network_receive_bytes_total{", "kubevirt_vmi_network_transmit_bytes_total{",
        "kubevirt_vmi_memory_used_bytes{", "kubec2_sim_http_requests_total{"}) {
    EXPECT_NE(metrics.find(std::string(name) + "node=\""), std::string::npos) << name;
  }
  EXPECT_NE(metrics.find(labels), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kubernetes_vmi_label_compute_kubec2_io_scaling_group=\"api\""),
            std::string::npos);
  EXPECT_NE(metrics.find("id=\"0\",state=\"running\""), std::string::npos);
  EXPECT_NE(metrics.find("interface=\"default\""), std::string::npos);

  // The value of one series of api-1 (the line holding `family{` and its labels).
  auto value = [&](const std::string& family) {
    const std::string text = http("GET", control("/metrics")).second;
    size_t pos = 0;
    while ((pos = text.find(family + "{", pos)) != std::string::npos) {
      const size_t eol = text.find('\n', pos);
      const std::string line = text.substr(pos, eol - pos);
      pos = eol;
      if (line.find(labels) == std::string::npos) continue;
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return -1.0;
  };
  EXPECT_GE(value("kubec2_sim_http_requests_total"), 1.0);
  EXPECT_EQ(value("kubevirt_vmi_cpu_usage_seconds_total"), 0.0);

  auto [code, body] = http("PUT", control("/load"),
                           json{{"namespace", ns_},
                                {"group", "api"},
                                {"cpu", 1.5},
                                {"networkInBytesPerSecond", 1000},
                                {"networkOutBytesPerSecond", 2000}}
                               .dump());
  ASSERT_EQ(code, 200) << body;
  EXPECT_EQ(json::parse(body)["runningVmis"], 2);
  EXPECT_TRUE(eventually([&] { return value("kubevirt_vmi_cpu_usage_seconds_total") > 0.05; }));
  EXPECT_GT(value("kubevirt_vmi_network_receive_bytes_total"), 0.0);
  EXPECT_GT(value("kubevirt_vmi_network_transmit_bytes_total"), 0.0);
}

TEST_F(KubevirtSim, HaltedStopsTheVmAndDeletingCleansUp) {
  client_->create(kVms, ns_, vmJson("db"));
  const std::string ip = ipOf(waitRunning("db"));
  ASSERT_EQ(http("GET", "http://" + ip + "/healthz").first, 200);

  client_->patch(kVms, ns_, "db", PatchType::Merge, {{"spec", {{"runStrategy", "Halted"}}}});
  EXPECT_TRUE(eventually([&] { return !vmi("db") && printable("db") == "Stopped"; }))
      << printable("db");
  const json stopped = vm("db");
  EXPECT_EQ(stopped["status"]["created"], false);
  EXPECT_EQ(stopped["status"]["ready"], false);
  EXPECT_TRUE(eventually([&] { return http("GET", "http://" + ip + "/healthz").first == 0; }));

  client_->patch(kVms, ns_, "db", PatchType::Merge, {{"spec", {{"runStrategy", "Always"}}}});
  const std::string ip2 = ipOf(waitRunning("db"));
  EXPECT_EQ(http("GET", "http://" + ip2 + "/healthz").first, 200);

  client_->del(kVms, ns_, "db");
  EXPECT_TRUE(eventually([&] { return !vmi("db"); }));
  EXPECT_TRUE(eventually([&] { return vmsList().empty(); }));
  EXPECT_TRUE(eventually([&] { return http("GET", "http://" + ip2 + "/healthz").first == 0; }));
  EXPECT_EQ(http("GET", control("/metrics")).second.find("name=\"db\""), std::string::npos);
}

TEST_F(KubevirtSim, CrashedVmiFailsAndComesBack) {
  client_->create(kVms, ns_, vmJson("worker", VmOptions().strategy("RerunOnFailure")));
  const json before = waitRunning("worker");
  auto [code, body] = http("POST", control("/faults"),
                           json{{"namespace", ns_}, {"name", "worker"}, {"fault", "crash"}}.dump());
  ASSERT_EQ(code, 200) << body;
  // Failed (and the VM in CrashLoopBackOff) for one boot delay, then a new VMI.
  bool sawFailed = false, sawCrashLoop = false;
  EXPECT_TRUE(eventually([&] {
    auto v = vmi("worker");
    if (v && field(*v, {"status", "phase"}) == "Failed") sawFailed = true;
    if (printable("worker") == "CrashLoopBackOff") sawCrashLoop = true;
    return v && field(*v, {"metadata", "uid"}) != field(before, {"metadata", "uid"}) &&
           field(*v, {"status", "phase"}) == "Running";
  }));
  EXPECT_TRUE(sawFailed);
  EXPECT_TRUE(sawCrashLoop);
  const json after = waitRunning("worker");
  EXPECT_EQ(http("GET", "http://" + ipOf(after) + "/healthz").first, 200);
}

TEST_F(KubevirtSim, HangBootAndUnschedulableVmsNeverRun) {
  // The fault is set before the VM exists: its VMI stops at Scheduled.
  ASSERT_EQ(http("POST", control("/faults"),
                 json{{"namespace", ns_}, {"name", "stuck"}, {"fault", "hang-boot"}}.dump())
                .first,
            200);
  client_->create(kVms, ns_, vmJson("stuck"));
  client_->create(kVms, ns_, vmJson("nowhere", VmOptions().inZone("eu-west-1a")));
  EXPECT_TRUE(eventually([&] { return vmiPhase("stuck") == "Scheduled"; }));
  EXPECT_TRUE(eventually([&] { return printable("nowhere") == "ErrorUnschedulable"; }))
      << printable("nowhere");
  // A VM created after them boots in one boot delay; by then the others
  // would have too.
  client_->create(kVms, ns_, vmJson("fine"));
  waitRunning("fine");
  EXPECT_EQ(vmiPhase("stuck"), "Scheduled");
  EXPECT_EQ(printable("stuck"), "Starting");
  const json nowhere = vmi("nowhere").value_or(json::object());
  EXPECT_EQ(field(nowhere, {"status", "phase"}), "Scheduling");
  bool unschedulable = false;
  for (const auto& c : nowhere["status"]["conditions"])
    if (c["type"] == "PodScheduled")
      unschedulable = c["status"] == "False" && c["reason"] == "Unschedulable";
  EXPECT_TRUE(unschedulable) << nowhere.dump();

  // Cleared, the next boot runs.
  ASSERT_EQ(http("POST", control("/faults"),
                 json{{"namespace", ns_}, {"name", "stuck"}, {"clear", true}}.dump())
                .first,
            200);
  waitRunning("stuck");
}

TEST_F(KubevirtSim, BadControlRequestsGet400) {
  struct Case {
    std::string method, path, body, mentions;
  };
  const std::vector<Case> cases = {
      {"PUT", "/load", "{not json", "JSON"},
      {"PUT", "/load", R"({"namespace":"x","group":"g","cpu":1,"color":"red"})", "color"},
      {"PUT", "/load", R"({"group":"g","cpu":1})", "namespace"},
      {"PUT", "/load", R"({"namespace":"x","group":"g","name":"n"})", "group"},
      {"PUT", "/load", R"({"namespace":"x","group":"g","cpu":-1})", "cpu"},
      {"PUT", "/load", R"({"namespace":"x","group":"g","cpu":"lots"})", "cpu"},
      {"POST", "/faults", R"({"namespace":"x","name":"n","fault":"explode"})", "fault"},
      {"POST", "/faults", R"({"namespace":"x","name":"n","fault":"slow-boot"})", "bootDelayMs"},
      {"POST", "/faults", R"({"namespace":"x","fault":"crash"})", "name"},
      {"POST", "/faults", R"([1,2])", "object"},
  };
  for (const auto& c : cases) {
    auto [code, body] = http(c.method, control(c.path), c.body);
    EXPECT_EQ(code, 400) << c.body << " -> " << body;
    const json err = json::parse(body, nullptr, false);
    ASSERT_TRUE(err.is_object() && err.contains("error")) << body;
    EXPECT_NE(err["error"].get<std::string>().find(c.mentions), std::string::npos)
        << c.body << " -> " << body;
  }
  EXPECT_EQ(http("GET", control("/nope")).first, 404);
  EXPECT_EQ(http("POST", control("/faults"),
                 json{{"namespace", ns_}, {"name", "ghost"}, {"fault", "crash"}}.dump())
                .first,
            404);
  EXPECT_EQ(http("GET", control("/healthz")).first, 200);  // still serving
}

TEST_F(KubevirtSim, RestartKeepsRunningVmisAndTheirAddresses) {
  client_->create(kVms, ns_, vmJson("keep"));
  const json before = waitRunning("keep");
  const std::string ip = ipOf(before);

  sim_->signal(SIGTERM);
  EXPECT_EQ(sim_->wait(15s), std::optional<int>(0)) << sim_->output();
  EXPECT_TRUE(eventually([&] { return http("GET", "http://" + ip + "/healthz").first == 0; }));

  startSimulator();
  EXPECT_TRUE(eventually([&] { return http("GET", "http://" + ip + "/healthz").first == 200; }));
  const json after = vmi("keep").value_or(json::object());
  EXPECT_EQ(field(after, {"metadata", "uid"}), field(before, {"metadata", "uid"}));
  EXPECT_EQ(ipOf(after), ip);
  const json list = vmsList();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["ip"], ip);
}

// CDI and the CSI snapshot-controller played: a DataVolume gets a Bound
// claim; a VM whose template volume restores from a VolumeSnapshot waits
// (Provisioning, no VMI) until the snapshot exists and is ready, then runs
// on a claim restored from it; deleting the snapshot deletes its content.
TEST_F(KubevirtSim, DataVolumesAndSnapshotsBeforeTheVmRuns) {
  ensureDefaultSnapshotClass();
  client_->create(kDataVolumes, ns_, blankDataVolume("golden", "2Gi"));
  ASSERT_TRUE(eventually([&] {
    auto dv = getOpt(kDataVolumes, ns_, "golden");
    return dv && field(*dv, {"status", "phase"}) == "Succeeded";
  })) << getOpt(kDataVolumes, ns_, "golden").value_or(json()).dump();
  const json golden = client_->get(kDataVolumes, ns_, "golden");
  EXPECT_EQ(field(golden, {"status", "progress"}), "100.0%");
  EXPECT_EQ(field(golden, {"status", "claimName"}), "golden");
  EXPECT_EQ(condition(golden, "Bound", "status"), "True");
  EXPECT_EQ(condition(golden, "Bound", "message"), "PVC golden Bound");
  EXPECT_EQ(condition(golden, "Ready", "status"), "True");
  EXPECT_EQ(condition(golden, "Running", "reason"), "Completed");
  const json claim = client_->get(kClaims, ns_, "golden");
  EXPECT_EQ(field(claim, {"status", "phase"}), "Bound");
  EXPECT_EQ(field(claim, {"status", "capacity", "storage"}), "2Gi");
  EXPECT_EQ(claim["spec"]["accessModes"], json::array({"ReadWriteOnce"}));
  EXPECT_EQ(claim["metadata"]["ownerReferences"][0]["uid"], golden["metadata"]["uid"]);

  // A VM restoring its root volume from a snapshot not taken yet.
  json vmObj = vmJson("restored");
  vmObj["spec"]["dataVolumeTemplates"] =
      json::array({{{"metadata", {{"name", "restored-root"}}},
                    {"spec",
                     {{"source", {{"snapshot", {{"namespace", ns_}, {"name", "golden-snap"}}}}},
                      {"storage", json::object()}}}}});
  vmObj["spec"]["template"]["spec"]["volumes"][0] = {{"name", "root"},
                                                     {"dataVolume", {{"name", "restored-root"}}}};
  const json vmCreated = client_->create(kVms, ns_, vmObj);
  ASSERT_TRUE(eventually([&] {
    auto dv = getOpt(kDataVolumes, ns_, "restored-root");
    return dv && field(*dv, {"status", "phase"}) == "CloneScheduled";
  }));
  json dv = client_->get(kDataVolumes, ns_, "restored-root");
  EXPECT_EQ(dv["metadata"]["ownerReferences"][0]["uid"], vmCreated["metadata"]["uid"]);
  EXPECT_EQ(dv["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
  EXPECT_EQ(condition(dv, "Bound", "reason"), "CloneWithoutSource");
  EXPECT_EQ(condition(dv, "Bound", "message"), "The source snapshot golden-snap doesn't exist");
  EXPECT_TRUE(eventually([&] { return printable("restored") == "Provisioning"; }))
      << printable("restored");
  EXPECT_FALSE(vmi("restored"));

  // The snapshot, with no class named: the default one is chosen.
  client_->create(kSnapshots, ns_, snapshotJson("golden-snap", "golden"));
  ASSERT_TRUE(eventually([&] {
    auto s = getOpt(kSnapshots, ns_, "golden-snap");
    return s && s->value("status", json::object()).value("readyToUse", false);
  })) << getOpt(kSnapshots, ns_, "golden-snap").value_or(json()).dump();
  const json snap = client_->get(kSnapshots, ns_, "golden-snap");
  EXPECT_EQ(field(snap, {"spec", "volumeSnapshotClassName"}), "kubec2-sim-snapshots");
  EXPECT_EQ(field(snap, {"status", "restoreSize"}), "2Gi");
  EXPECT_FALSE(field(snap, {"status", "creationTime"}).empty());
  const std::string contentName = "snapcontent-" + field(snap, {"metadata", "uid"});
  EXPECT_EQ(field(snap, {"status", "boundVolumeSnapshotContentName"}), contentName);
  const json content = client_->get(kSnapshotContents, "", contentName);
  EXPECT_EQ(field(content, {"spec", "driver"}), "kubevirt-sim.kubec2.io");
  EXPECT_EQ(field(content, {"spec", "deletionPolicy"}), "Delete");
  EXPECT_EQ(field(content, {"spec", "volumeSnapshotRef", "name"}), "golden-snap");
  EXPECT_EQ(content["status"]["readyToUse"], true);
  EXPECT_EQ(content["status"]["restoreSize"], 2147483648LL);

  // The VM's volume is restored from it, then the VM runs.
  waitRunning("restored");
  dv = client_->get(kDataVolumes, ns_, "restored-root");
  EXPECT_EQ(field(dv, {"status", "phase"}), "Succeeded");
  const json restoredClaim = client_->get(kClaims, ns_, "restored-root");
  EXPECT_EQ(field(restoredClaim, {"spec", "resources", "requests", "storage"}), "2Gi");
  EXPECT_EQ(field(restoredClaim, {"spec", "dataSource", "kind"}), "VolumeSnapshot");
  EXPECT_EQ(field(restoredClaim, {"spec", "dataSource", "name"}), "golden-snap");

  // Deleting the snapshot deletes its content (deletionPolicy Delete).
  client_->del(kSnapshots, ns_, "golden-snap");
  EXPECT_TRUE(eventually([&] { return !getOpt(kSnapshotContents, "", contentName); }));
}

// The snapshot-controller's errors, in status.error, until the claim and
// then the class exist; with --snapshot-delay-ms the cut comes first
// (creationTime, readyToUse false), readyToUse later.
TEST_F(KubevirtSim, SnapshotErrorsThenACutThenReady) {
  sim_.reset();
  snapshotDelayMs_ = 1500;
  startSimulator();
  const std::string cls = "sim-test-" + ns_;
  client_->create(kSnapshots, ns_, snapshotJson("s1", "data", cls));
  auto errorOf = [&] {
    auto s = getOpt(kSnapshots, ns_, "s1");
    return s ? field(*s, {"status", "error", "message"}) : "";
  };
  EXPECT_TRUE(eventually([&] {
    return errorOf() ==
           "Failed to create snapshot content with error snapshot controller failed to update s1 "
           "on API server: cannot get claim from snapshot";
  })) << errorOf();
  EXPECT_EQ(client_->get(kSnapshots, ns_, "s1")["status"]["readyToUse"], false);

  client_->create(kDataVolumes, ns_, blankDataVolume("data", "1Gi"));
  EXPECT_TRUE(eventually([&] {
    return errorOf() ==
           "Failed to create snapshot content with error failed to get input parameters to create "
           "snapshot s1: \"volumesnapshotclass.snapshot.storage.k8s.io \\\"" +
               cls + "\\\" not found\"";
  })) << errorOf();

  client_->create(kSnapshotClasses, "",
                  {{"apiVersion", "snapshot.storage.k8s.io/v1"},
                   {"kind", "VolumeSnapshotClass"},
                   {"metadata", {{"name", cls}}},
                   {"driver", "kubevirt-sim.kubec2.io"},
                   {"deletionPolicy", "Retain"}});
  bool sawCut = false;
  EXPECT_TRUE(eventually([&] {
    auto s = getOpt(kSnapshots, ns_, "s1");
    if (!s) return false;
    const json st = s->value("status", json::object());
    if (!field(*s, {"status", "creationTime"}).empty() && st.value("readyToUse", true) == false &&
        !field(*s, {"status", "boundVolumeSnapshotContentName"}).empty() &&
        st.value("error", json()).is_null())
      sawCut = true;
    return st.value("readyToUse", false);
  }));
  EXPECT_TRUE(sawCut);
  const json snap = client_->get(kSnapshots, ns_, "s1");
  EXPECT_EQ(field(snap, {"status", "restoreSize"}), "1Gi");
  const std::string contentName = "snapcontent-" + field(snap, {"metadata", "uid"});

  // Retain: the content outlives its snapshot.
  client_->del(kSnapshots, ns_, "s1");
  EXPECT_TRUE(eventually([&] { return !getOpt(kSnapshots, ns_, "s1"); }));
  std::this_thread::sleep_for(500ms);  // what the simulator would have done by now
  EXPECT_TRUE(getOpt(kSnapshotContents, "", contentName));
  client_->del(kSnapshotContents, "", contentName);
  client_->del(kSnapshotClasses, "", cls);
}

// KubeVirt's snapshot controller played: a VirtualMachineSnapshot of a
// running VM gets its content and one VolumeSnapshot per claim-backed
// volume, then Succeeded and ready; one of a missing VM waits with
// KubeVirt's "Source does not exist"; deleting the snapshot deletes its
// content and VolumeSnapshots.
TEST_F(KubevirtSim, VirtualMachineSnapshotsOfARunningVm) {
  ensureDefaultSnapshotClass();
  json vmObj = vmJson("db");
  vmObj["spec"]["dataVolumeTemplates"] =
      json::array({{{"metadata", {{"name", "db-root"}}},
                    {"spec",
                     {{"source", {{"blank", json::object()}}},
                      {"storage", {{"resources", {{"requests", {{"storage", "3Gi"}}}}}}}}}}});
  vmObj["spec"]["template"]["spec"]["volumes"][0] = {{"name", "root"},
                                                     {"dataVolume", {{"name", "db-root"}}}};
  const json vmCreated = client_->create(kVms, ns_, vmObj);
  waitRunning("db");

  auto vmSnapshot = [&](const std::string& name, const std::string& vmName) {
    return json{{"apiVersion", "snapshot.kubevirt.io/v1beta1"},
                {"kind", "VirtualMachineSnapshot"},
                {"metadata", {{"name", name}}},
                {"spec",
                 {{"source",
                   {{"apiGroup", "kubevirt.io"}, {"kind", "VirtualMachine"}, {"name", vmName}}}}}};
  };
  client_->create(kVmSnapshots, ns_, vmSnapshot("before-upgrade", "db"));
  client_->create(kVmSnapshots, ns_, vmSnapshot("of-nothing", "ghost"));
  ASSERT_TRUE(eventually([&] {
    auto s = getOpt(kVmSnapshots, ns_, "before-upgrade");
    return s && field(*s, {"status", "phase"}) == "Succeeded" &&
           s->value("status", json::object()).value("readyToUse", false);
  })) << getOpt(kVmSnapshots, ns_, "before-upgrade").value_or(json()).dump();
  const json snap = client_->get(kVmSnapshots, ns_, "before-upgrade");
  const std::string uid = field(snap, {"metadata", "uid"});
  EXPECT_EQ(field(snap, {"status", "virtualMachineSnapshotContentName"}),
            "vmsnapshot-content-" + uid);
  EXPECT_EQ(field(snap, {"status", "sourceUID"}), field(vmCreated, {"metadata", "uid"}));
  EXPECT_FALSE(field(snap, {"status", "creationTime"}).empty());
  EXPECT_EQ(snap["status"]["indications"], json::array({"NoGuestAgent", "Online"}));
  EXPECT_EQ(snap["status"]["snapshotVolumes"]["includedVolumes"], json::array({"root"}));
  EXPECT_EQ(snap["status"]["snapshotVolumes"]["excludedVolumes"], json::array({"cloudinit"}));
  EXPECT_EQ(condition(snap, "Ready", "status"), "True");
  EXPECT_EQ(condition(snap, "Progressing", "reason"), "Operation complete");

  const json content = client_->get(kVmSnapshotContents, ns_, "vmsnapshot-content-" + uid);
  EXPECT_EQ(field(content, {"spec", "virtualMachineSnapshotName"}), "before-upgrade");
  EXPECT_EQ(field(content, {"spec", "source", "virtualMachine", "metadata", "name"}), "db");
  ASSERT_EQ(content["spec"]["volumeBackups"].size(), 1u);
  const json& backup = content["spec"]["volumeBackups"][0];
  const std::string vsName = "vmsnapshot-" + uid + "-volume-root";
  EXPECT_EQ(backup.value("volumeName", ""), "root");
  EXPECT_EQ(backup.value("volumeSnapshotName", ""), vsName);
  EXPECT_EQ(field(backup, {"persistentVolumeClaim", "metadata", "name"}), "db-root");
  EXPECT_EQ(content["status"]["readyToUse"], true);
  const json vs = client_->get(kSnapshots, ns_, vsName);
  EXPECT_EQ(vs["metadata"]["ownerReferences"][0]["uid"], content["metadata"]["uid"]);
  EXPECT_EQ(field(vs, {"spec", "source", "persistentVolumeClaimName"}), "db-root");
  EXPECT_EQ(field(vs, {"status", "restoreSize"}), "3Gi");

  const json nothing = client_->get(kVmSnapshots, ns_, "of-nothing");
  EXPECT_EQ(field(nothing, {"status", "phase"}), "InProgress");
  EXPECT_EQ(condition(nothing, "Progressing", "reason"), "Source does not exist");
  EXPECT_EQ(condition(nothing, "Ready", "reason"), "Not ready");

  client_->del(kVmSnapshots, ns_, "before-upgrade");
  EXPECT_TRUE(eventually([&] {
    return !getOpt(kVmSnapshotContents, ns_, "vmsnapshot-content-" + uid) &&
           !getOpt(kSnapshots, ns_, vsName);
  }));
}

}  // namespace
}  // namespace kube::testing
