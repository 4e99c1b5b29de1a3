// The KubeVirt simulator's pure parts (tools/kubevirt-sim): addresses,
// the boot timeline, scheduling, VM -> VMI rendering, status, the load model
// in simulated time, metrics text, control API parsing, and what a VMI's port
// answers under each fault (hang-health over a real loopback socket).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include <gtest/gtest.h>

#include "runtime/fake_clock.h"
#include "tools/kubevirt-sim/control_api.h"
#include "tools/kubevirt-sim/http_server.h"
#include "tools/kubevirt-sim/ip_allocator.h"
#include "tools/kubevirt-sim/load_model.h"
#include "tools/kubevirt-sim/model.h"
#include "tools/kubevirt-sim/storage_model.h"

namespace kubec2::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// ---- Addresses ------------------------------------------------------------------

TEST(KubevirtSimIpAllocator, HandsOutUpwardSkippingZeroAndBroadcast) {
  IpAllocator a("127.1.0.253");
  EXPECT_EQ(a.allocate("a"), "127.1.0.253");
  EXPECT_EQ(a.allocate("b"), "127.1.0.254");
  EXPECT_EQ(a.allocate("c"), "127.1.1.1");    // .255 and .0 skipped
  EXPECT_EQ(a.allocate("a"), "127.1.0.253");  // the owner keeps its address
  EXPECT_EQ(a.inUse(), 3u);
}

TEST(KubevirtSimIpAllocator, NeverReusesAnAddressInUseAndReusesFreedOnesLast) {
  IpAllocator a;
  EXPECT_EQ(a.allocate("a"), "127.1.0.1");
  EXPECT_EQ(a.allocate("b"), "127.1.0.2");
  a.release("a");
  EXPECT_EQ(a.allocate("c"), "127.1.0.3");    // next-fit: not the one just freed
  EXPECT_FALSE(a.reserve("d", "127.1.0.2"));  // b holds it
  EXPECT_TRUE(a.reserve("d", "127.1.0.1"));
  EXPECT_EQ(a.addressOf("d"), "127.1.0.1");
  a.block("127.1.0.4");
  EXPECT_EQ(a.allocate("e"), "127.1.0.5");
  EXPECT_FALSE(a.reserve("f", "10.0.0.1"));
  EXPECT_FALSE(a.reserve("f", "127.1.0.0"));
  EXPECT_FALSE(a.reserve("f", "127.0.0.9"));  // below the start
  EXPECT_THROW(IpAllocator("10.0.0.1"), std::invalid_argument);
  EXPECT_THROW(IpAllocator("127.1.0.255"), std::invalid_argument);
}

TEST(KubevirtSimIpAllocator, ExhaustsAndWraps) {
  IpAllocator a("127.255.255.253");
  EXPECT_EQ(a.allocate("a"), "127.255.255.253");
  EXPECT_EQ(a.allocate("b"), "127.255.255.254");
  EXPECT_EQ(a.allocate("c"), std::nullopt);
  a.release("a");
  EXPECT_EQ(a.allocate("c"), "127.255.255.253");
}

// ---- Run strategies and the timeline ----------------------------------------------

TEST(KubevirtSimModel, RunStrategies) {
  EXPECT_EQ(runStrategyOf({{"spec", {{"runStrategy", "RerunOnFailure"}}}}),
            RunStrategy::RerunOnFailure);
  EXPECT_EQ(runStrategyOf({{"spec", {{"running", true}}}}), RunStrategy::Always);
  EXPECT_EQ(runStrategyOf({{"spec", {{"running", false}}}}), RunStrategy::Halted);
  EXPECT_EQ(runStrategyOf({{"spec", json::object()}}), RunStrategy::Halted);
  EXPECT_EQ(desireOf(RunStrategy::Once), Desire::Run);
  EXPECT_EQ(desireOf(RunStrategy::Manual), Desire::Leave);
  EXPECT_EQ(desireOf(RunStrategy::Halted), Desire::Stop);
  EXPECT_TRUE(restartsAfter(RunStrategy::Always, "Succeeded"));
  EXPECT_TRUE(restartsAfter(RunStrategy::RerunOnFailure, "Failed"));
  EXPECT_FALSE(restartsAfter(RunStrategy::RerunOnFailure, "Succeeded"));
  EXPECT_FALSE(restartsAfter(RunStrategy::Once, "Failed"));
}

TEST(KubevirtSimModel, BootTimelineInThirds) {
  const auto d = std::chrono::nanoseconds(900ms);
  EXPECT_EQ(bootPhase(0ns, d, false).phase, Phase::Pending);
  EXPECT_EQ(bootPhase(0ns, d, false).next, std::chrono::nanoseconds(300ms));
  EXPECT_EQ(bootPhase(std::chrono::nanoseconds(400ms), d, false).phase, Phase::Scheduling);
  EXPECT_EQ(bootPhase(std::chrono::nanoseconds(700ms), d, false).phase, Phase::Scheduled);
  EXPECT_EQ(bootPhase(std::chrono::nanoseconds(700ms), d, false).next,
            std::chrono::nanoseconds(200ms));
  EXPECT_EQ(bootPhase(d, d, false).phase, Phase::Running);
  EXPECT_EQ(bootPhase(d, d, false).next, std::nullopt);
  // Zero delay: Running at once. hang-boot: Scheduled for ever.
  EXPECT_EQ(bootPhase(0ns, 0ns, false).phase, Phase::Running);
  EXPECT_EQ(bootPhase(std::chrono::nanoseconds(10s), d, true).phase, Phase::Scheduled);
  EXPECT_EQ(bootPhase(std::chrono::nanoseconds(10s), d, true).next, std::nullopt);
  EXPECT_EQ(phaseStart(Phase::Scheduled, d), std::chrono::nanoseconds(600ms));
}

// ---- Nodes and scheduling -------------------------------------------------------

json zoneAffinity(const std::string& op, std::vector<std::string> zones) {
  return {{"affinity",
           {{"nodeAffinity",
             {{"requiredDuringSchedulingIgnoredDuringExecution",
               {{"nodeSelectorTerms",
                 json::array(
                     {{{"matchExpressions", json::array({{{"key", "topology.kubernetes.io/zone"},
                                                          {"operator", op},
                                                          {"values", zones}}})}}})}}}}}}}};
}

TEST(KubevirtSimModel, ParsesNodes) {
  auto nodes = parseNodes("a=us-east-1a,b=us-east-1b");
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[1], (SimNode{"b", "us-east-1b"}));
  EXPECT_THROW(parseNodes("a"), std::invalid_argument);
  EXPECT_THROW(parseNodes("a=x,a=y"), std::invalid_argument);
  EXPECT_THROW(parseNodes(""), std::invalid_argument);
  const json n = renderNode(nodes[0]);
  EXPECT_EQ(n["metadata"]["labels"]["topology.kubernetes.io/zone"], "us-east-1a");
  EXPECT_EQ(n["metadata"]["labels"]["kubernetes.io/hostname"], "a");
  EXPECT_EQ(n["metadata"]["labels"][kSimulatedLabel], "true");
  EXPECT_EQ(renderNodeStatus(nodes[0], "t")["conditions"][0]["type"], "Ready");
}

TEST(KubevirtSimModel, SchedulesRoundRobinHonouringZoneAndNodeSelector) {
  Scheduler s(parseNodes("a=z1,b=z2,c=z3,d=z2"));
  EXPECT_EQ(s.pick(json::object())->name, "a");
  EXPECT_EQ(s.pick(json::object())->name, "b");
  EXPECT_EQ(s.pick(json::object())->name, "c");
  EXPECT_EQ(s.pick(json::object())->name, "d");
  const json inZ2 = zoneAffinity("In", {"z2"});
  EXPECT_EQ(s.pick(inZ2)->name, "b");
  EXPECT_EQ(s.pick(inZ2)->name, "d");
  EXPECT_EQ(s.pick(inZ2)->name, "b");
  EXPECT_EQ(s.pick(zoneAffinity("In", {"z9"})), std::nullopt);
  EXPECT_EQ(s.pick(zoneAffinity("NotIn", {"z1", "z2"}))->name, "c");
  EXPECT_EQ(s.pick({{"nodeSelector", {{"kubernetes.io/hostname", "a"}}}})->name, "a");
  EXPECT_EQ(s.pick({{"nodeSelector", {{"disk", "ssd"}}}}), std::nullopt);
}

TEST(KubevirtSimModel, NodeEligibilityOperators) {
  const std::map<std::string, std::string> labels = {{"zone", "z1"}, {"cpus", "8"}};
  auto term = [](json expr) {
    return json{{"affinity",
                 {{"nodeAffinity",
                   {{"requiredDuringSchedulingIgnoredDuringExecution",
                     {{"nodeSelectorTerms", json::array({expr})}}}}}}}};
  };
  auto req = [](const std::string& key, const std::string& op, json values = json::array()) {
    return json{
        {"matchExpressions", json::array({{{"key", key}, {"operator", op}, {"values", values}}})}};
  };
  EXPECT_TRUE(nodeEligible(term(req("zone", "Exists")), "n", labels));
  EXPECT_FALSE(nodeEligible(term(req("gpu", "Exists")), "n", labels));
  EXPECT_TRUE(nodeEligible(term(req("gpu", "DoesNotExist")), "n", labels));
  EXPECT_TRUE(nodeEligible(term(req("cpus", "Gt", {"4"})), "n", labels));
  EXPECT_FALSE(nodeEligible(term(req("cpus", "Lt", {"4"})), "n", labels));
  EXPECT_TRUE(nodeEligible(
      term({{"matchFields",
             json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"n"}}}})}}),
      "n", labels));
  EXPECT_FALSE(nodeEligible(term(json::object()), "n", labels));  // empty term: nothing
}

// ---- VM -> VMI --------------------------------------------------------------------

json sampleVm() {
  return json::parse(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "web-1", "namespace": "ns", "uid": "u-1",
                 "labels": {"vm-only": "x"}},
    "spec": {"runStrategy": "Always",
      "template": {
        "metadata": {"labels": {"compute.kubec2.io/scaling-group": "web"},
                     "annotations": {"a": "b"}},
        "spec": {"domain": {"cpu": {"cores": 2, "sockets": 2},
                            "memory": {"guest": "2Gi"},
                            "devices": {"interfaces": [{"name": "default", "masquerade": {},
                              "ports": [{"port": 8080}, {"port": 53, "protocol": "UDP"},
                                        {"port": 443, "protocol": "TCP"}]}]}},
                 "networks": [{"name": "default", "pod": {}}]}}}})");
}

TEST(KubevirtSimModel, RendersTheVmi) {
  const json vmi = renderVmi(sampleVm(), std::string("node-b"));
  EXPECT_EQ(vmi["kind"], "VirtualMachineInstance");
  EXPECT_EQ(vmi["metadata"]["name"], "web-1");
  EXPECT_EQ(vmi["metadata"]["namespace"], "ns");
  EXPECT_EQ(vmi["metadata"]["labels"],
            (json{{"compute.kubec2.io/scaling-group", "web"}, {kNodeNameLabel, "node-b"}}));
  EXPECT_EQ(vmi["metadata"]["annotations"], (json{{"a", "b"}}));
  const json& ref = vmi["metadata"]["ownerReferences"][0];
  EXPECT_EQ(ref["kind"], "VirtualMachine");
  EXPECT_EQ(ref["uid"], "u-1");
  EXPECT_EQ(ref["controller"], true);
  EXPECT_EQ(ref["blockOwnerDeletion"], true);
  EXPECT_EQ(vmi["spec"], sampleVm()["spec"]["template"]["spec"]);
  EXPECT_FALSE(renderVmi(sampleVm())["metadata"]["labels"].contains(kNodeNameLabel));

  // A template without labels (pruned by the test CRD): the VM's own.
  json bare = sampleVm();
  bare["spec"]["template"].erase("metadata");
  EXPECT_EQ(renderVmi(bare)["metadata"]["labels"], (json{{"vm-only", "x"}}));
}

TEST(KubevirtSimModel, PortsCpusAndMemory) {
  const json spec = sampleVm()["spec"]["template"]["spec"];
  EXPECT_EQ(servedPorts(spec, {80, 8080}), (std::vector<int>{80, 443, 8080}));
  EXPECT_EQ(servedPorts(json::object(), {}), std::vector<int>{});
  EXPECT_EQ(vcpusOf(spec), 4);
  EXPECT_EQ(vcpusOf({{"domain", {{"resources", {{"requests", {{"cpu", "1500m"}}}}}}}}), 2);
  EXPECT_EQ(vcpusOf(json::object()), 1);
  EXPECT_DOUBLE_EQ(memoryBytesOf(spec), 2.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(parseQuantity("512Mi"), 512.0 * 1024 * 1024);
  EXPECT_EQ(parseQuantity("1G"), 1e9);
  EXPECT_EQ(parseQuantity("250m"), 0.25);
  EXPECT_EQ(parseQuantity("lots"), std::nullopt);
  EXPECT_EQ(parseQuantity("5Zi"), std::nullopt);
}

// ---- Status ----------------------------------------------------------------------------

TEST(KubevirtSimModel, VmiStatusByPhase) {
  VmiStatusInputs in;
  in.phase = Phase::Running;
  in.node = "node-a";
  in.ip = "127.1.0.7";
  const json s = vmiStatus(in);
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["nodeName"], "node-a");
  EXPECT_EQ(s["interfaces"][0]["name"], "default");
  EXPECT_EQ(s["interfaces"][0]["ipAddress"], "127.1.0.7");
  EXPECT_EQ(s["interfaces"][0]["ipAddresses"], json::array({"127.1.0.7"}));
  EXPECT_EQ(s["conditions"][0], (json{{"type", "Ready"}, {"status", "True"}}));

  in = {};
  in.phase = Phase::Scheduling;
  in.unschedulable = true;
  const json u = vmiStatus(in);
  EXPECT_TRUE(u["nodeName"].is_null());
  EXPECT_TRUE(u["interfaces"].is_null());
  EXPECT_EQ(u["conditions"][0]["type"], "PodScheduled");
  EXPECT_EQ(u["conditions"][0]["reason"], "Unschedulable");
}

TEST(KubevirtSimModel, PrintableStatusAsKubevirtShowsIt) {
  auto ps = [](VmView v) { return printableStatus(v); };
  VmView v;
  v.strategy = RunStrategy::Always;
  EXPECT_EQ(ps(v), "Stopped");
  v.vmiExists = true;
  v.vmiPhase = Phase::Pending;
  EXPECT_EQ(ps(v), "Starting");
  v.vmiPhase = Phase::Scheduling;
  v.unschedulable = true;
  EXPECT_EQ(ps(v), "ErrorUnschedulable");
  v.unschedulable = false;
  v.vmiPhase = Phase::Running;
  EXPECT_EQ(ps(v), "Running");
  v.vmiPhase = Phase::Failed;
  EXPECT_EQ(ps(v), "CrashLoopBackOff");
  v.strategy = RunStrategy::Once;
  EXPECT_EQ(ps(v), "Stopped");
  v.vmiDeleting = true;
  EXPECT_EQ(ps(v), "Stopping");
  v.vmDeleting = true;
  EXPECT_EQ(ps(v), "Terminating");

  VmView running;
  running.strategy = RunStrategy::Always;
  running.vmiExists = true;
  running.vmiPhase = Phase::Running;
  const json s = vmStatus(running);
  EXPECT_EQ(s["ready"], true);
  EXPECT_EQ(s["created"], true);
  EXPECT_EQ(s["conditions"][0]["status"], "True");
  EXPECT_TRUE(s["startFailure"].is_null());
  const json stopped = vmStatus(VmView{});
  EXPECT_EQ(stopped["printableStatus"], "Stopped");
  EXPECT_EQ(stopped["ready"], false);
  EXPECT_EQ(stopped["created"], false);
}

TEST(KubevirtSimModel, UnchangedStatusIsNotRewritten) {
  VmView running;
  running.strategy = RunStrategy::Always;
  running.vmiExists = true;
  running.vmiPhase = Phase::Running;
  const json first = withTransitionTimes(vmStatus(running), json::object(), "T1");
  EXPECT_EQ(first["conditions"][0]["lastTransitionTime"], "T1");
  // As stored: nulls dropped.
  json stored = first;
  stored.erase("startFailure");
  stored["conditions"][0].erase("lastProbeTime");
  const json again = withTransitionTimes(vmStatus(running), stored, "T2");
  EXPECT_EQ(again["conditions"][0]["lastTransitionTime"], "T1");
  EXPECT_TRUE(satisfies(stored, again));
  running.vmiPhase = Phase::Scheduled;
  EXPECT_FALSE(satisfies(stored, withTransitionTimes(vmStatus(running), stored, "T2")));
  EXPECT_FALSE(satisfies(json{{"startFailure", {{"consecutiveFailCount", 1}}}},
                         json{{"startFailure", nullptr}}));
}

// ---- Load model and metrics -----------------------------------------------------------

VmiInfo vmiInfo(const std::string& name, const std::string& group, int vcpus = 2) {
  VmiInfo v;
  v.namespace_ = "ns";
  v.name = name;
  v.node = "node-a";
  v.vcpus = vcpus;
  v.memoryBytes = 1000;
  if (!group.empty()) v.labels[kScalingGroupLabel] = group;
  v.labels["app.kubernetes.io/name"] = "web";
  return v;
}

TEST(KubevirtSimLoadModel, SpreadsGroupDemandAndIntegratesOverTime) {
  kube::FakeClock clock;
  LoadModel m(clock);
  m.addVmi(vmiInfo("a", "web"));
  m.addVmi(vmiInfo("b", "web"));
  m.addVmi(vmiInfo("c", "other"));
  m.setDemand({"ns", "web", ""}, {1.0, 100, 200});
  EXPECT_EQ(m.members({"ns", "web", ""}), 2u);
  clock.advance(10s);
  auto a = m.counters("ns", "a");
  ASSERT_TRUE(a);
  EXPECT_DOUBLE_EQ(a->cpuSeconds, 5.0);  // half a core for 10 s
  EXPECT_DOUBLE_EQ(a->vcpuSeconds[0], 2.5);
  EXPECT_DOUBLE_EQ(a->vcpuSeconds[1], 2.5);
  EXPECT_DOUBLE_EQ(a->rxBytes, 500);
  EXPECT_DOUBLE_EQ(a->txBytes, 1000);
  EXPECT_DOUBLE_EQ(m.counters("ns", "c")->cpuSeconds, 0);

  // A third member joins: from now on a third each; the past is kept.
  m.addVmi(vmiInfo("d", "web"));
  clock.advance(3s);
  EXPECT_DOUBLE_EQ(m.counters("ns", "a")->cpuSeconds, 6.0);
  EXPECT_DOUBLE_EQ(m.counters("ns", "d")->cpuSeconds, 1.0);

  // A VMI's own demand adds to its share; CPU is capped at its vCPUs.
  m.setDemand({"ns", "", "a"}, {5.0, 0, 0});
  clock.advance(1s);
  EXPECT_DOUBLE_EQ(m.counters("ns", "a")->cpuSeconds, 8.0);
  EXPECT_DOUBLE_EQ(m.counters("ns", "a")->cpuRate, 2.0);

  // A zero demand removes it; a removed VMI loses its series.
  m.setDemand({"ns", "", "a"}, {});
  EXPECT_EQ(m.demands().size(), 1u);
  m.removeVmi("ns", "a");
  EXPECT_EQ(m.counters("ns", "a"), std::nullopt);
  m.countRequest("ns", "b");
  EXPECT_DOUBLE_EQ(m.counters("ns", "b")->httpRequests, 1);
}

// requestsPerSecond: spread like CPU, integrated into the request counter
// together with the requests the VMI's sockets really answer.
TEST(KubevirtSimLoadModel, SimulatedRequestsAddToTheAnsweredOnes) {
  kube::FakeClock clock;
  LoadModel m(clock);
  m.addVmi(vmiInfo("a", "web"));
  m.addVmi(vmiInfo("b", "web"));
  m.setDemand({"ns", "web", ""}, {.requestsPerSecond = 30});
  m.setDemand({"ns", "", "b"}, {.requestsPerSecond = 5});
  clock.advance(10s);
  m.countRequest("ns", "a");  // a health check answered
  clock.advance(10s);
  EXPECT_DOUBLE_EQ(m.counters("ns", "a")->httpRequests, 15 * 20 + 1);
  EXPECT_DOUBLE_EQ(m.counters("ns", "b")->httpRequests, (15 + 5) * 20);
  EXPECT_DOUBLE_EQ(m.counters("ns", "b")->requestRate, 20);
  // A third member: a third each from now on; the counts so far are kept.
  m.addVmi(vmiInfo("c", "web"));
  clock.advance(1s);
  EXPECT_DOUBLE_EQ(m.counters("ns", "a")->httpRequests, 301 + 10);
  EXPECT_DOUBLE_EQ(m.counters("ns", "c")->httpRequests, 10);
  // CPU is not implied: requests alone use no CPU in the model.
  EXPECT_DOUBLE_EQ(m.counters("ns", "a")->cpuSeconds, 0);
  const std::string text = m.renderMetrics();
  EXPECT_NE(
      text.find("kubec2_sim_http_requests_total{node=\"node-a\",namespace=\"ns\",name=\"c\","),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("kubernetes_vmi_label_compute_kubec2_io_scaling_group=\"web\"} 10\n"),
            std::string::npos)
      << text;
}

TEST(KubevirtSimLoadModel, RendersKubevirtNamesAndLabels) {
  kube::FakeClock clock;
  LoadModel m(clock);
  m.addVmi(vmiInfo("a", "web", 1));
  m.setDemand({"ns", "web", ""}, {0.5, 10, 20});
  clock.advance(2s);
  const std::string text = m.renderMetrics();
  const std::string labels =
      "node=\"node-a\",namespace=\"ns\",name=\"a\","
      "kubernetes_vmi_label_app_kubernetes_io_name=\"web\","
      "kubernetes_vmi_label_compute_kubec2_io_scaling_group=\"web\"";
  EXPECT_NE(text.find("# TYPE kubevirt_vmi_cpu_usage_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("kubevirt_vmi_cpu_usage_seconds_total{" + labels + "} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("kubevirt_vmi_vcpu_seconds_total{" + labels + ",id=\"0\",state=\"running\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find("kubevirt_vmi_network_receive_bytes_total{" + labels +
                      ",interface=\"default\"} 20\n"),
            std::string::npos);
  EXPECT_NE(text.find("kubevirt_vmi_network_transmit_bytes_total{" + labels +
                      ",interface=\"default\"} 40\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE kubevirt_vmi_memory_used_bytes gauge\n"), std::string::npos);
  EXPECT_NE(text.find("kubevirt_vmi_memory_used_bytes{" + labels + "} 450\n"), std::string::npos);
  EXPECT_NE(text.find("kubec2_sim_http_requests_total{" + labels + "} 0\n"), std::string::npos);
  EXPECT_EQ(vmiLabelName("compute.example.io/group"),
            "kubernetes_vmi_label_compute_example_io_group");
  EXPECT_EQ(escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

// ---- Control API -------------------------------------------------------------------------

TEST(KubevirtSimControlApi, ParsesLoadRequests) {
  auto ok = parseLoadRequest(
      R"({"namespace":"ns","group":"web","cpu":2.5,"networkInBytesPerSecond":10})");
  ASSERT_TRUE(std::holds_alternative<LoadRequest>(ok));
  const auto& r = std::get<LoadRequest>(ok);
  EXPECT_EQ(r.target, (LoadTarget{"ns", "web", ""}));
  EXPECT_EQ(r.demand, (Demand{2.5, 10, 0}));
  auto byName = parseLoadRequest(R"({"namespace":"ns","name":"vm-1","cpu":1})");
  ASSERT_TRUE(std::holds_alternative<LoadRequest>(byName));
  EXPECT_EQ(std::get<LoadRequest>(byName).target.name, "vm-1");

  auto err = [](const std::string& body) {
    auto parsed = parseLoadRequest(body);
    return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
  };
  EXPECT_NE(err("{oops").find("JSON"), std::string::npos);
  EXPECT_NE(err("[]").find("object"), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","group":"g","memory":1})").find("\"memory\""),
            std::string::npos);
  EXPECT_NE(err(R"({"group":"g"})").find("\"namespace\""), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns"})").find("\"group\""), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","group":"g","name":"n"})").find("exactly one"),
            std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","group":"g","cpu":-1})").find("\"cpu\""), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","group":"","cpu":1})").find("\"group\""), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","group":"g","networkOutBytesPerSecond":"x"})")
                .find("networkOutBytesPerSecond"),
            std::string::npos);
  auto requests = parseLoadRequest(R"({"namespace":"ns","group":"web","requestsPerSecond":25})");
  ASSERT_TRUE(std::holds_alternative<LoadRequest>(requests));
  EXPECT_EQ(std::get<LoadRequest>(requests).demand, (Demand{.requestsPerSecond = 25}));
  EXPECT_EQ(err(R"({"namespace":"ns","group":"g","requestsPerSecond":-1})"),
            "field \"requestsPerSecond\" must be a number >= 0");
  EXPECT_EQ(err(R"({"namespace":"ns","group":"g","requestsPerSecond":"many"})"),
            "field \"requestsPerSecond\" must be a number >= 0");
}

TEST(KubevirtSimControlApi, ParsesFaultRequests) {
  auto parse = [](const std::string& body) { return parseFaultRequest(body); };
  auto slow = parse(R"({"namespace":"ns","name":"vm","fault":"slow-boot","bootDelayMs":500})");
  ASSERT_TRUE(std::holds_alternative<FaultRequest>(slow));
  EXPECT_EQ(std::get<FaultRequest>(slow).fault, FaultKind::SlowBoot);
  EXPECT_EQ(std::get<FaultRequest>(slow).bootDelayMs, 500);
  auto clear = parse(R"({"namespace":"ns","name":"vm","clear":true})");
  ASSERT_TRUE(std::holds_alternative<FaultRequest>(clear));
  EXPECT_TRUE(std::get<FaultRequest>(clear).clear);

  auto err = [&](const std::string& body) {
    auto r = parse(body);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
  };
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm","fault":"melt"})").find("\"fault\""),
            std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm","fault":"slow-boot"})").find("bootDelayMs"),
            std::string::npos);
  EXPECT_NE(
      err(R"({"namespace":"ns","name":"vm","fault":"crash","bootDelayMs":5})").find("bootDelayMs"),
      std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm"})").find("\"fault\""), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm","clear":"yes"})").find("\"clear\""),
            std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm","clear":true,"fault":"crash"})").find("clear"),
            std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","fault":"crash"})").find("\"name\""), std::string::npos);
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm","fault":"crash","why":1})").find("\"why\""),
            std::string::npos);
  auto hang = parse(R"({"namespace":"ns","name":"vm","fault":"hang-health"})");
  ASSERT_TRUE(std::holds_alternative<FaultRequest>(hang));
  EXPECT_EQ(std::get<FaultRequest>(hang).fault, FaultKind::HangHealth);
  EXPECT_NE(err(R"({"namespace":"ns","name":"vm","fault":"hang"})").find("hang-health"),
            std::string::npos);  // the message lists it
  FaultSet f;
  f.hangBoot = true;
  f.slowBootMs = 250;
  EXPECT_EQ(f.toJson(), json::array({"hang-boot", "slow-boot:250ms"}));
  FaultSet h;
  h.hangHealth = true;
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(h.toJson(), json::array({"hang-health"}));
}

TEST(KubevirtSimVmiPorts, AnswerHealthAndOtherPathsByFault) {
  const HttpRequest health{"GET", "/healthz?x=1", ""};
  const HttpRequest other{"GET", "/index.html", ""};
  EXPECT_EQ(vmiAnswer(health, "/healthz", false, false, "banner").status, 200);
  EXPECT_EQ(vmiAnswer(health, "/healthz", false, false, "banner").body, "ok");
  EXPECT_EQ(vmiAnswer(health, "/healthz", true, false, "banner").status, 503);
  EXPECT_EQ(vmiAnswer(other, "/healthz", true, false, "banner").status, 200);  // health path only
  EXPECT_EQ(vmiAnswer(other, "/healthz", false, false, "banner").body, "banner");
  EXPECT_TRUE(vmiAnswer(health, "/healthz", false, true, "banner").noAnswer);
  EXPECT_TRUE(vmiAnswer(other, "/healthz", false, true, "banner").noAnswer);  // every path
  EXPECT_TRUE(vmiAnswer(health, "/healthz", true, true, "banner").noAnswer);  // hang wins
}

// One HTTP/1.1 exchange on a new connection to 127.0.0.1:port: what the server
// sent until it closed, or nullopt when it sent nothing within `wait`.
std::optional<std::string> exchange(int port, const std::string& path,
                                    std::chrono::milliseconds wait) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string got;
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[1024];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (got.empty()) return std::nullopt;
  return got;
}

TEST(KubevirtSimVmiPorts, HangHealthAcceptsAndNeverAnswers) {
  HttpServers servers;
  servers.start();
  std::atomic<bool> hang{true};
  const int port = servers
                       .listen("127.0.0.1", 0,
                               [&](const HttpRequest& r) {
                                 return vmiAnswer(r, "/healthz", false, hang, "banner\n");
                               })
                       .port;
  // Accepted (connect succeeds) but unanswered, on every path. Waiting
  // longer could only let a wrong answer through, never fail a right one.
  EXPECT_EQ(exchange(port, "/healthz", 1500ms), std::nullopt);
  EXPECT_EQ(exchange(port, "/", 500ms), std::nullopt);
  hang = false;  // clear: answers again
  const auto answer = exchange(port, "/healthz", 10s);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->rfind("HTTP/1.1 200", 0), 0u) << *answer;
}

class FakeSim : public SimControl {
 public:
  HttpResponse setLoad(const LoadRequest& r) override {
    lastLoad = r;
    return HttpResponse::json(200, {{"ok", true}});
  }
  HttpResponse applyFault(const FaultRequest& r) override {
    lastFault = r;
    return HttpResponse::json(200, {{"ok", true}});
  }
  json listVms() override { return json::array({{{"name", "vm"}}}); }
  json loads() override { return json::array(); }
  std::string metrics() override { throw std::runtime_error("boom"); }
  std::optional<LoadRequest> lastLoad;
  std::optional<FaultRequest> lastFault;
};

TEST(KubevirtSimControlApi, Routes) {
  FakeSim sim;
  EXPECT_EQ(handleControl(sim, {"GET", "/healthz", ""}).status, 200);
  EXPECT_EQ(handleControl(sim, {"GET", "/vms", ""}).body, "[{\"name\":\"vm\"}]\n");
  EXPECT_EQ(handleControl(sim, {"PUT", "/load", R"({"namespace":"n","group":"g","cpu":1})"}).status,
            200);
  ASSERT_TRUE(sim.lastLoad);
  EXPECT_EQ(sim.lastLoad->target.group, "g");
  const HttpResponse bad = handleControl(sim, {"PUT", "/load", "nope"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(json::parse(bad.body).contains("error"));
  EXPECT_EQ(
      handleControl(sim, {"POST", "/faults", R"({"namespace":"n","name":"v","fault":"crash"})"})
          .status,
      200);
  EXPECT_EQ(sim.lastFault->fault, FaultKind::Crash);
  EXPECT_EQ(handleControl(sim, {"DELETE", "/load", ""}).status, 405);
  EXPECT_EQ(handleControl(sim, {"GET", "/faults", ""}).status, 405);
  EXPECT_EQ(handleControl(sim, {"GET", "/nothing", ""}).status, 404);
  // Found reading the code for tests/fuzz/sim_control_fuzz: a path that is
  // not UTF-8, quoted in the 404's message, made the JSON dump throw (500).
  const HttpResponse notUtf8 = handleControl(sim, {"GET", "/\xff\xfe", ""});
  EXPECT_EQ(notUtf8.status, 404);
  EXPECT_TRUE(json::accept(notUtf8.body)) << notUtf8.body;
  EXPECT_EQ(handleControl(sim, {"GET", "/metrics", ""}).status, 500);  // never throws
}

// ---- Storage: virt-controller's DataVolumes, CDI, snapshot-controller ------------

json vmWithTemplates() {
  return {
      {"metadata", {{"name", "web-1"}, {"namespace", "shop"}, {"uid", "vm-uid"}}},
      {"spec",
       {{"dataVolumeTemplates",
         json::array({{{"metadata", {{"name", "web-1-root"}, {"labels", {{"tier", "web"}}}}},
                       {"spec",
                        {{"source", {{"snapshot", {{"namespace", "shop"}, {"name", "snap-1"}}}}},
                         {"storage", json::object()}}}}})},
        {"template",
         {{"spec",
           {{"volumes",
             json::array({{{"name", "root"}, {"dataVolume", {{"name", "web-1-root"}}}},
                          {{"name", "ci"}, {"cloudInitNoCloud", json::object()}}})}}}}}}}};
}

TEST(KubevirtSimStorage, DataVolumeFromATemplateIsOwnedByTheVm) {
  const json vm = vmWithTemplates();
  const json dv = renderDataVolume(vm, vm["spec"]["dataVolumeTemplates"][0]);
  EXPECT_EQ(dv["apiVersion"], "cdi.kubevirt.io/v1beta1");
  EXPECT_EQ(dv["kind"], "DataVolume");
  EXPECT_EQ(dv["metadata"]["name"], "web-1-root");
  EXPECT_EQ(dv["metadata"]["namespace"], "shop");
  EXPECT_EQ(dv["metadata"]["labels"]["tier"], "web");
  const json& ref = dv["metadata"]["ownerReferences"][0];
  EXPECT_EQ(ref["kind"], "VirtualMachine");
  EXPECT_EQ(ref["uid"], "vm-uid");
  EXPECT_EQ(ref["controller"], true);
  EXPECT_EQ(ref["blockOwnerDeletion"], true);
  EXPECT_EQ(dv["spec"]["source"]["snapshot"]["name"], "snap-1");
  EXPECT_EQ(vmDataVolumeNames(vm), std::vector<std::string>{"web-1-root"});
}

TEST(KubevirtSimStorage, VmWaitsForItsDataVolumesAsKubevirtShowsIt) {
  const std::vector<std::string> names = {"a", "b"};
  const json ok = {{"status", {{"phase", "Succeeded"}}}};
  const json cloning = {{"status", {{"phase", "CloneScheduled"}}}};
  const json failed = {{"status", {{"phase", "Failed"}}}};
  const json importError = {{"status",
                             {{"phase", "ImportInProgress"},
                              {"conditions", json::array({{{"type", "Running"},
                                                           {"status", "False"},
                                                           {"reason", "Error"},
                                                           {"message", "boom"}}})}}}};
  auto v = vmVolumesView(names, {ok, ok});
  EXPECT_TRUE(v.ready);
  EXPECT_FALSE(v.provisioning);
  v = vmVolumesView(names, {ok, json()});  // not created yet: wait, but not Provisioning
  EXPECT_FALSE(v.ready);
  EXPECT_FALSE(v.provisioning);
  v = vmVolumesView(names, {ok, cloning});
  EXPECT_FALSE(v.ready);
  EXPECT_TRUE(v.provisioning);
  EXPECT_EQ(v.error, "");
  v = vmVolumesView(names, {failed, ok});
  EXPECT_EQ(v.error, "DataVolume a is in Failed phase");
  v = vmVolumesView(names, {ok, importError});
  EXPECT_EQ(v.error, "DataVolume b importer has stopped running due to an error: boom");

  VmView view;
  view.strategy = RunStrategy::Always;
  view.provisioning = true;
  EXPECT_EQ(printableStatus(view), "Provisioning");
  view.strategy = RunStrategy::Halted;  // before Stopped in KubeVirt's order
  EXPECT_EQ(printableStatus(view), "Provisioning");
  view.dataVolumeError = true;
  EXPECT_EQ(printableStatus(view), "DataVolumeError");
  view.vmDeleting = true;
  EXPECT_EQ(printableStatus(view), "Terminating");
  VmView running;
  running.strategy = RunStrategy::Always;
  running.vmiExists = true;
  running.vmiPhase = Phase::Running;
  running.provisioning = true;  // a volume being replaced under a running VM
  EXPECT_EQ(printableStatus(running), "Running");
}

json dvWith(json source, json storage) {
  return {{"metadata", {{"name", "vol"}, {"namespace", "shop"}, {"uid", "dv-uid"}}},
          {"spec", {{"source", std::move(source)}, {"storage", std::move(storage)}}}};
}

TEST(KubevirtSimStorage, ClaimSizeComesFromTheRequestElseTheSource) {
  // An import with a request: that size, ReadWriteOnce by default.
  json dv =
      dvWith({{"blank", json::object()}}, {{"resources", {{"requests", {{"storage", "5Gi"}}}}}});
  DvDecision d = decideDataVolume(dv, {});
  ASSERT_TRUE(d.createClaim);
  EXPECT_EQ(d.claim["metadata"]["name"], "vol");
  EXPECT_EQ(d.claim["metadata"]["ownerReferences"][0]["kind"], "DataVolume");
  EXPECT_EQ(d.claim["metadata"]["ownerReferences"][0]["uid"], "dv-uid");
  EXPECT_EQ(d.claim["spec"]["resources"]["requests"]["storage"], "5Gi");
  EXPECT_EQ(d.claim["spec"]["accessModes"], json::array({"ReadWriteOnce"}));
  EXPECT_FALSE(d.claim["spec"].contains("dataSource"));

  // A snapshot source without a size: the snapshot's restoreSize, and the
  // claim restores from it.
  dv = dvWith({{"snapshot", {{"name", "snap-1"}}}},
              {{"accessModes", json::array({"ReadWriteMany"})}});
  const json snap = {{"status", {{"readyToUse", true}, {"restoreSize", "10Gi"}}}};
  d = decideDataVolume(dv, snapshotSourceView(&snap));
  ASSERT_TRUE(d.createClaim);
  EXPECT_EQ(d.claim["spec"]["resources"]["requests"]["storage"], "10Gi");
  EXPECT_EQ(d.claim["spec"]["accessModes"], json::array({"ReadWriteMany"}));
  EXPECT_EQ(d.claim["spec"]["dataSource"], json({{"apiGroup", "snapshot.storage.k8s.io"},
                                                 {"kind", "VolumeSnapshot"},
                                                 {"name", "snap-1"}}));

  // A pvc source without a size: the source claim's capacity (spec.pvc kept).
  dv = {{"metadata", {{"name", "vol"}, {"namespace", "shop"}, {"uid", "dv-uid"}}},
        {"spec",
         {{"source", {{"pvc", {{"name", "golden"}}}}}, {"pvc", {{"storageClassName", "fast"}}}}}};
  const json golden = {{"status", {{"phase", "Bound"}, {"capacity", {{"storage", "20Gi"}}}}}};
  d = decideDataVolume(dv, claimSourceView(&golden));
  ASSERT_TRUE(d.createClaim);
  EXPECT_EQ(d.claim["spec"]["resources"]["requests"]["storage"], "20Gi");
  EXPECT_EQ(d.claim["spec"]["storageClassName"], "fast");

  const json succeeded = dataVolumeSucceeded(dv);
  EXPECT_EQ(succeeded["phase"], "Succeeded");
  EXPECT_EQ(succeeded["progress"], "100.0%");
  EXPECT_EQ(succeeded["claimName"], "vol");
  EXPECT_EQ(succeeded["conditions"][0], json({{"type", "Bound"},
                                              {"status", "True"},
                                              {"reason", "Bound"},
                                              {"message", "PVC vol Bound"}}));
  EXPECT_EQ(succeeded["conditions"][1]["type"], "Ready");
  EXPECT_EQ(succeeded["conditions"][1]["status"], "True");
  EXPECT_EQ(succeeded["conditions"][2]["message"], "Clone Complete");
  EXPECT_EQ(succeeded["conditions"][2]["reason"], "Completed");
  EXPECT_EQ(boundClaimStatus(d.claim), json({{"phase", "Bound"},
                                             {"accessModes", json::array({"ReadWriteOnce"})},
                                             {"capacity", {{"storage", "20Gi"}}}}));
}

TEST(KubevirtSimStorage, MissingOrUnreadyCloneSourcesWaitWithCdisReasons) {
  const json dv = dvWith({{"snapshot", {{"namespace", "shop"}, {"name", "snap-1"}}}},
                         {{"resources", {{"requests", {{"storage", "5Gi"}}}}}});
  DvDecision d = decideDataVolume(dv, snapshotSourceView(nullptr));
  EXPECT_FALSE(d.createClaim);
  EXPECT_EQ(d.waitingStatus["phase"], "CloneScheduled");
  EXPECT_EQ(d.waitingStatus["conditions"][0]["reason"], "CloneWithoutSource");
  EXPECT_EQ(d.waitingStatus["conditions"][0]["message"],
            "The source snapshot snap-1 doesn't exist");
  EXPECT_EQ(d.waitingStatus["conditions"][1]["type"], "Ready");
  EXPECT_EQ(d.waitingStatus["conditions"][1]["reason"], "CloneWithoutSource");

  const json cutting = {{"status", {{"readyToUse", false}}}};
  d = decideDataVolume(dv, snapshotSourceView(&cutting));
  EXPECT_FALSE(d.createClaim);
  EXPECT_EQ(d.waitingStatus["phase"], "CloneScheduled");
  EXPECT_EQ(d.waitingStatus["conditions"][0]["reason"], "NotFound");
  EXPECT_EQ(d.waitingStatus["conditions"][0]["message"], "No PVC found");

  const json pvcDv = dvWith({{"pvc", {{"name", "golden"}}}}, json::object());
  d = decideDataVolume(pvcDv, claimSourceView(nullptr));
  EXPECT_EQ(d.waitingStatus["conditions"][0]["message"], "The source pvc golden doesn't exist");
}

json snapshotOf(const std::string& cls) {
  json s = {{"metadata", {{"name", "snap-1"}, {"namespace", "shop"}, {"uid", "s-uid"}}},
            {"spec", {{"source", {{"persistentVolumeClaimName", "data"}}}}}};
  if (!cls.empty()) s["spec"]["volumeSnapshotClassName"] = cls;
  return s;
}

json classOf(const std::string& name, bool isDefault, const std::string& driver = kSimCsiDriver) {
  json c = {{"metadata", {{"name", name}}}, {"driver", driver}, {"deletionPolicy", "Delete"}};
  if (isDefault) c["metadata"]["annotations"][kDefaultSnapshotClassAnnotation] = "true";
  return c;
}

TEST(KubevirtSimStorage, SnapshotClassIsTheNamedOneElseTheOneDefault) {
  const json bound = {{"metadata", {{"uid", "c-uid"}}},
                      {"spec", {{"resources", {{"requests", {{"storage", "5Gi"}}}}}}},
                      {"status", {{"phase", "Bound"}, {"capacity", {{"storage", "8Gi"}}}}}};
  const std::vector<json> classes = {classOf("gold", false), classOf("sim", true),
                                     classOf("other-driver", true, "ebs.csi.aws.com")};
  SnapshotDecision d = decideSnapshot(snapshotOf(""), classes, &bound);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.snapshotClass["metadata"]["name"], "sim");
  EXPECT_TRUE(d.setDefaultClass);
  EXPECT_EQ(d.restoreSize, "8Gi");  // the capacity, not the request

  d = decideSnapshot(snapshotOf("gold"), classes, &bound);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.snapshotClass["metadata"]["name"], "gold");
  EXPECT_FALSE(d.setDefaultClass);

  // Two defaults of the driver, none.
  d = decideSnapshot(snapshotOf(""), {classOf("a", true), classOf("b", true)}, &bound);
  EXPECT_EQ(
      d.error,
      "Failed to set default snapshot class with error 2 default snapshot classes were found");
  d = decideSnapshot(snapshotOf(""), {classOf("gold", false)}, &bound);
  EXPECT_EQ(d.error,
            "Failed to set default snapshot class with error cannot find default snapshot class");
}

TEST(KubevirtSimStorage, SnapshotErrorsAreTheSnapshotControllersWords) {
  const json pending = {{"status", {{"phase", "Pending"}}}};
  const std::vector<json> classes = {classOf("sim", true)};
  EXPECT_EQ(decideSnapshot(snapshotOf(""), classes, nullptr).error,
            "Failed to set default snapshot class with error failed to retrieve PVC data from the "
            "lister: \"persistentvolumeclaim \\\"data\\\" not found\"");
  EXPECT_EQ(decideSnapshot(snapshotOf(""), classes, &pending).error,
            "Failed to set default snapshot class with error the PVC data is not yet bound to a "
            "PV, will not attempt to take a snapshot");
  EXPECT_EQ(decideSnapshot(snapshotOf("gone"), classes, nullptr).error,
            "Failed to create snapshot content with error snapshot controller failed to update "
            "snap-1 on API server: cannot get claim from snapshot");
  EXPECT_EQ(
      decideSnapshot(snapshotOf("gone"), classes, &pending).error,
      "Failed to create snapshot content with error failed to get input parameters to create "
      "snapshot snap-1: \"volumesnapshotclass.snapshot.storage.k8s.io \\\"gone\\\" not found\"");
  EXPECT_EQ(decideSnapshot(snapshotOf("sim"), classes, &pending).error,
            "Failed to create snapshot content with error failed to get input parameters to create "
            "snapshot snap-1: \"the PVC data is not yet bound to a PV, will not attempt to take a "
            "snapshot\"");
  EXPECT_EQ(goQuote(R"(a "b" \c)"), R"("a \"b\" \\c")");
}

TEST(KubevirtSimStorage, ContentAndStatusAsTheControllersWriteThem) {
  const json snap = snapshotOf("sim");
  EXPECT_EQ(contentNameFor("s-uid"), "snapcontent-s-uid");
  const json c = renderContent(snap, classOf("sim", true), "kubevirt-sim-c-uid");
  EXPECT_EQ(c["metadata"]["name"], "snapcontent-s-uid");
  EXPECT_FALSE(c["metadata"].contains("namespace"));
  EXPECT_EQ(c["spec"]["volumeSnapshotRef"]["name"], "snap-1");
  EXPECT_EQ(c["spec"]["volumeSnapshotRef"]["namespace"], "shop");
  EXPECT_EQ(c["spec"]["volumeSnapshotRef"]["uid"], "s-uid");
  EXPECT_EQ(c["spec"]["driver"], kSimCsiDriver);
  EXPECT_EQ(c["spec"]["deletionPolicy"], "Delete");
  EXPECT_EQ(c["spec"]["volumeSnapshotClassName"], "sim");
  EXPECT_EQ(c["spec"]["source"]["volumeHandle"], "kubevirt-sim-c-uid");

  const json cs = contentStatus(false, "10Gi", "h", 1700000000123456789);
  EXPECT_EQ(cs["readyToUse"], false);
  EXPECT_EQ(cs["restoreSize"], 10737418240);
  EXPECT_EQ(cs["creationTime"], 1700000000123456789);
  EXPECT_EQ(formatBytes(10737418240), "10Gi");
  EXPECT_EQ(formatBytes(1536), "1536");  // not a whole number of Ki
  EXPECT_EQ(formatBytes(0), "0");
  EXPECT_EQ(quantityBytes("1Mi"), 1048576);

  const json s = snapshotStatus("snapcontent-s-uid", "2026-01-01T00:00:00Z", true, "10Gi");
  EXPECT_EQ(s["boundVolumeSnapshotContentName"], "snapcontent-s-uid");
  EXPECT_EQ(s["readyToUse"], true);
  EXPECT_EQ(s["restoreSize"], "10Gi");
  EXPECT_TRUE(s["error"].is_null());  // a merge patch removes an earlier error
  const json e = snapshotErrorStatus("boom", "2026-01-01T00:00:00Z");
  EXPECT_EQ(e["readyToUse"], false);
  EXPECT_EQ(e["error"]["message"], "boom");
}

// ---- Storage: KubeVirt's snapshot controller -------------------------------------------

json vmWithVolumes() {
  return {
      {"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "vm-uid"}}},
      {"spec",
       {{"runStrategy", "Always"},
        {"template",
         {{"spec",
           {{"volumes",
             json::array({{{"name", "root"}, {"dataVolume", {{"name", "db-root"}}}},
                          {{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "db-data"}}}},
                          {{"name", "ci"}, {"cloudInitNoCloud", json::object()}}})}}}}}}}};
}

TEST(KubevirtSimVmSnapshots, NamesVolumesAndClassAsKubevirtDoes) {
  EXPECT_EQ(vmSnapshotContentName("u1"), "vmsnapshot-content-u1");
  EXPECT_EQ(vmVolumeSnapshotName("u1", "root"), "vmsnapshot-u1-volume-root");
  const auto vols = vmClaimVolumes(vmWithVolumes());
  ASSERT_EQ(vols.size(), 2u);
  EXPECT_EQ(vols[0].volume, "root");
  EXPECT_EQ(vols[0].claim, "db-root");
  EXPECT_EQ(vols[1].volume, "data");
  EXPECT_EQ(vols[1].claim, "db-data");
  EXPECT_EQ(vmVolumeNames(vmWithVolumes()), (std::vector<std::string>{"root", "data", "ci"}));

  EXPECT_EQ(vmSnapshotClass({}, "").name, "");  // none: the volume is left out
  EXPECT_EQ(vmSnapshotClass({classOf("only", false)}, "").name, "only");
  EXPECT_EQ(vmSnapshotClass({classOf("a", false), classOf("b", true)}, "").name, "b");
  EXPECT_EQ(vmSnapshotClass({classOf("a", false), classOf("b", false)}, "fast").error,
            "2 matching VolumeSnapshotClasses for fast");
  EXPECT_EQ(vmSnapshotClass({classOf("x", true, "ebs.csi.aws.com")}, "").name, "");
}

TEST(KubevirtSimVmSnapshots, ContentHoldsTheVmAndABackupPerClaim) {
  const json snap = {
      {"metadata", {{"name", "before-upgrade"}, {"namespace", "shop"}, {"uid", "s1"}}},
      {"spec",
       {{"source", {{"apiGroup", "kubevirt.io"}, {"kind", "VirtualMachine"}, {"name", "db"}}}}}};
  const json claim = {{"metadata", {{"name", "db-root"}, {"namespace", "shop"}, {"uid", "c1"}}},
                      {"spec", {{"accessModes", json::array({"ReadWriteOnce"})}}}};
  const json vm = vmWithVolumes();
  const json c = renderVmSnapshotContent(snap, vm, {{"root", "db-root"}}, {claim});
  EXPECT_EQ(c["metadata"]["name"], "vmsnapshot-content-s1");
  EXPECT_EQ(c["metadata"]["namespace"], "shop");
  EXPECT_FALSE(c["metadata"].contains("annotations"));
  EXPECT_EQ(c["spec"]["virtualMachineSnapshotName"], "before-upgrade");
  EXPECT_EQ(c["spec"]["source"]["virtualMachine"]["metadata"]["name"], "db");
  EXPECT_EQ(c["spec"]["source"]["virtualMachine"]["spec"], vm["spec"]);
  ASSERT_EQ(c["spec"]["volumeBackups"].size(), 1u);
  const json& b = c["spec"]["volumeBackups"][0];
  EXPECT_EQ(b["volumeName"], "root");
  EXPECT_EQ(b["persistentVolumeClaim"]["metadata"]["name"], "db-root");
  EXPECT_EQ(b["persistentVolumeClaim"]["spec"]["accessModes"], json::array({"ReadWriteOnce"}));
  EXPECT_EQ(b["volumeSnapshotName"], "vmsnapshot-s1-volume-root");

  json retained = snap;
  retained["spec"]["deletionPolicy"] = "Retain";  // KubeVirt's DeletionPolicy values
  EXPECT_EQ(
      renderVmSnapshotContent(retained, vm, {}, {})["metadata"]["annotations"][kRetainAnnotation],
      "true");

  json content = c;
  content["metadata"]["uid"] = "content-uid";
  const json vs = renderVmVolumeSnapshot(content, b, "sim");
  EXPECT_EQ(vs["metadata"]["name"], "vmsnapshot-s1-volume-root");
  EXPECT_EQ(vs["metadata"]["labels"]["snapshot.kubevirt.io/source-vm-name"], "db");
  EXPECT_EQ(vs["metadata"]["labels"]["snapshot.kubevirt.io/source-vm-namespace"], "shop");
  EXPECT_EQ(vs["metadata"]["ownerReferences"][0]["kind"], "VirtualMachineSnapshotContent");
  EXPECT_EQ(vs["metadata"]["ownerReferences"][0]["uid"], "content-uid");
  EXPECT_EQ(vs["spec"]["source"]["persistentVolumeClaimName"], "db-root");
  EXPECT_EQ(vs["spec"]["volumeSnapshotClassName"], "sim");
}

TEST(KubevirtSimVmSnapshots, ContentStatusFollowsItsVolumeSnapshots) {
  const json content = {{"spec",
                         {{"volumeBackups", json::array({{{"volumeSnapshotName", "vs-a"}},
                                                         {{"volumeSnapshotName", "vs-b"}}})}}}};
  const json cut = {{"status", {{"creationTime", "T1"}, {"readyToUse", false}}}};
  const json ready = {{"status", {{"creationTime", "T1"}, {"readyToUse", true}}}};
  json s = vmSnapshotContentStatus(content, {cut, json()}, json::object(), "NOW");
  EXPECT_TRUE(s["creationTime"].is_null());
  EXPECT_EQ(s["readyToUse"], false);
  EXPECT_EQ(s["volumeSnapshotStatus"][1], json({{"volumeSnapshotName", "vs-b"}}));
  s = vmSnapshotContentStatus(content, {cut, ready}, json::object(), "NOW");
  EXPECT_EQ(s["creationTime"], "NOW");  // every volume is cut
  EXPECT_EQ(s["readyToUse"], false);
  s = vmSnapshotContentStatus(content, {ready, ready}, {{"creationTime", "EARLIER"}}, "NOW");
  EXPECT_EQ(s["creationTime"], "EARLIER");
  EXPECT_EQ(s["readyToUse"], true);
  EXPECT_TRUE(s["error"].is_null());
  const json failing = {{"status", {{"readyToUse", false}, {"error", {{"message", "boom"}}}}}};
  s = vmSnapshotContentStatus(content, {failing, ready}, json::object(), "NOW");
  EXPECT_EQ(s["error"]["message"], "VolumeSnapshot vs-a error: boom");
  s = vmSnapshotContentStatus(content, {ready, json()}, {{"creationTime", "EARLIER"}}, "NOW");
  EXPECT_EQ(s["error"]["message"], "VolumeSnapshots (vs-b) missing");
  EXPECT_EQ(s["readyToUse"], false);
}

std::string snapCond(const json& status, const std::string& type, const char* what) {
  for (const auto& c : status["conditions"])
    if (c["type"] == type) return c.value(what, "");
  return "";
}

TEST(KubevirtSimVmSnapshots, StatusAsKubevirtWritesIt) {
  VmSnapshotView v;  // no VM
  json s = vmSnapshotStatus(json::object(), v);
  EXPECT_EQ(s["phase"], "InProgress");
  EXPECT_EQ(s["readyToUse"], false);
  EXPECT_EQ(snapCond(s, "Progressing", "status"), "False");
  EXPECT_EQ(snapCond(s, "Progressing", "reason"), "Source does not exist");
  EXPECT_EQ(snapCond(s, "Ready", "reason"), "Not ready");

  v.sourceExists = true;
  v.sourceUid = "vm-uid";
  v.online = true;
  v.locked = true;
  v.content = {{"metadata", {{"name", "vmsnapshot-content-s1"}}},
               {"status", {{"readyToUse", false}}}};
  s = vmSnapshotStatus(json::object(), v);
  EXPECT_EQ(s["phase"], "InProgress");
  EXPECT_EQ(s["sourceUID"], "vm-uid");
  EXPECT_EQ(s["virtualMachineSnapshotContentName"], "vmsnapshot-content-s1");
  EXPECT_EQ(snapCond(s, "Progressing", "status"), "True");
  EXPECT_EQ(snapCond(s, "Progressing", "reason"), "Source locked and operation in progress");
  EXPECT_EQ(s["indications"], json::array({"NoGuestAgent", "Online"}));
  EXPECT_EQ(s["sourceIndications"][1]["indication"], "Online");

  v.content["status"]["creationTime"] = "T1";
  v.includedVolumes = {"root"};
  v.excludedVolumes = {"ci"};
  s = vmSnapshotStatus(json::object(), v);
  EXPECT_EQ(s["phase"], "Succeeded");
  EXPECT_EQ(s["creationTime"], "T1");
  EXPECT_EQ(s["readyToUse"], false);
  EXPECT_EQ(snapCond(s, "Progressing", "reason"), "Operation complete");
  EXPECT_EQ(snapCond(s, "Ready", "status"), "False");
  EXPECT_EQ(s["snapshotVolumes"]["includedVolumes"], json::array({"root"}));
  EXPECT_EQ(s["snapshotVolumes"]["excludedVolumes"], json::array({"ci"}));
  EXPECT_FALSE(s.contains("indications"));  // kept as they were

  v.content["status"]["readyToUse"] = true;
  s = vmSnapshotStatus({{"phase", "Succeeded"}}, v);
  EXPECT_EQ(s["readyToUse"], true);
  EXPECT_EQ(snapCond(s, "Ready", "status"), "True");
  EXPECT_EQ(snapCond(s, "Ready", "reason"), "Ready");

  VmSnapshotView late;  // the VM never came
  late.deadlineExceeded = true;
  s = vmSnapshotStatus({{"phase", "InProgress"}}, late);
  EXPECT_EQ(s["phase"], "Failed");
  EXPECT_EQ(snapCond(s, "Failure", "status"), "True");
  EXPECT_EQ(snapCond(s, "Failure", "reason"), "snapshot deadline exceeded");
  EXPECT_EQ(snapCond(s, "Progressing", "reason"), "Operation failed");

  EXPECT_EQ(parseGoDuration(""), std::chrono::milliseconds(300000));
  EXPECT_EQ(parseGoDuration("5m0s"), std::chrono::milliseconds(300000));
  EXPECT_EQ(parseGoDuration("1h30m"), std::chrono::milliseconds(5400000));
  EXPECT_EQ(parseGoDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(parseGoDuration("10"), std::nullopt);
  EXPECT_EQ(parseGoDuration("5 minutes"), std::nullopt);
}

}  // namespace
}  // namespace kubec2::sim
