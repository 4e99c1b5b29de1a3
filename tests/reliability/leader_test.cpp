// Leader election with two operator processes, and the admission webhook
// down (issue 15; docs/reliability.md, "Leader election" and "Webhook down").
//
// Two kubec2-operator processes run with --leader-elect against a real
// control plane whose kube-apiserver writes an audit log of every write
// (testdata/leader-audit-policy.yaml). Each process names its leader
// election identity in its User-Agent, so the log tells who wrote what. A
// ScalingGroup whose desired capacity a user keeps changing gives the
// leader writes to make (Instances, VirtualMachines, status) at any moment.
// Then:
//  - kill -9 of the leader, 3 times (KUBEC2_RELIABILITY_SIZE=full: 20): the
//    standby takes over; the gaps (the old leader's last write, the new
//    one's acquisition, its first write) are measured from the audit log;
//  - SIGSTOP of the leader for longer than the lease, then SIGCONT: it must
//    write nothing after it wakes, and exit ("leader election lost");
//  - for both, every write by each process (not Lease or Event writes) is
//    checked against the Lease holder at its time, from the audit log: a
//    write received or completed while the process did not hold the Lease
//    is a violation. The goal is none.
// The webhook down: the shipped webhook configurations (failurePolicy Fail)
// pointed at an address where nothing answers; what a user and the operator
// can still do.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/client.h"
#include "runtime/errors.h"
#include "runtime/http_transport.h"
#include "runtime/timefmt.h"
#include "tests/integration/compute/group_probe.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/control_plane.h"
#include "tests/integration/crds.h"
#include "tests/integration/helpers.h"
#include "tests/integration/http.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/operator_process.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using WallTime = std::chrono::system_clock::time_point;

constexpr const char* kLeaseNs = "kubec2-system";
// The operator's defaults (ManagerOptions), which these processes run with.
constexpr auto kLeaseDuration = 15s;
constexpr auto kRetryPeriod = 2s;

bool fullSize() {
  const char* s = std::getenv("KUBEC2_RELIABILITY_SIZE");
  return s && std::string(s) == "full";
}

std::string tail(const std::string& s, std::size_t n = 3000) {
  return s.size() > n ? s.substr(s.size() - n) : s;
}

double seconds(std::chrono::system_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// An audit timestamp, to the microsecond it is written with.
WallTime parseTime(const std::string& s) {
  const auto t = parseRfc3339(s);
  if (!t) throw std::runtime_error("audit log: bad time " + s);
  return WallTime(t->utc) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t->fraction);
}

// One kubec2-operator process with leader election (no webhook, metrics or
// health listener). Its identity is the one it campaigns with (from its
// log), as it appears in its User-Agent.
class LeaderCandidate {
 public:
  LeaderCandidate(const std::string& leaseName, const std::string& ns, int n)
      : process_({.logFile = ControlPlaneEnvironment::get().dir() + "/operator-" + leaseName + "-" +
                             std::to_string(n) + ".log",
                  .operatorNamespace = kLeaseNs,
                  .extraArgs = {"--leader-elect", "--leader-election-namespace", kLeaseNs,
                                "--leader-election-id", leaseName, "--namespace", ns,
                                "--terminated-instance-retention-seconds", "2"}}) {
    process_.start();
  }
  // The identity from the "Campaigning for leadership" line; "" until logged.
  std::string identity() {
    if (!identity_.empty()) return identity_;
    std::istringstream lines(process_.output());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("Campaigning for leadership") == std::string::npos) continue;
      const json j = json::parse(line, nullptr, false);
      if (j.is_object()) identity_ = j.value("identity", "");
    }
    return identity_;
  }
  OperatorProcess& process() { return process_; }
  std::string output() const { return process_.output(); }

 private:
  OperatorProcess process_;
  std::string identity_;
};

// --- The audit log -------------------------------------------------------

struct AuditWrite {
  std::string who;  // the operator identity from the User-Agent; "" for others
  std::string verb, resource, subresource, ns, name;
  int code = 0;
  WallTime received{}, completed{};
  std::string holder;  // Lease writes: spec.holderIdentity written
  std::string str() const {
    return verb + " " + resource + (subresource.empty() ? "" : "/" + subresource) + " " + ns + "/" +
           name + " (" + std::to_string(code) + ")";
  }
};

// "kubec2-operator/0.1.0 (host_uuid)" -> "host_uuid".
std::string identityOf(const std::string& userAgent) {
  if (userAgent.rfind("kubec2-operator/", 0) != 0) return "";
  const auto open = userAgent.find('(');
  const auto close = userAgent.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return userAgent.substr(open + 1, close - open - 1);
}

std::vector<AuditWrite> readAudit() {
  std::vector<AuditWrite> out;
  std::ifstream in(ControlPlaneEnvironment::get().dir() + "/audit.log");
  for (std::string line; std::getline(in, line);) {
    const json e = json::parse(line, nullptr, false);
    if (!e.is_object() || e.value("stage", "") != "ResponseComplete") continue;
    const json ref = e.value("objectRef", json::object());
    AuditWrite w;
    w.who = identityOf(e.value("userAgent", ""));
    w.verb = e.value("verb", "");
    w.resource = ref.value("resource", "");
    w.subresource = ref.value("subresource", "");
    w.ns = ref.value("namespace", "");
    w.name = ref.value("name", "");
    w.code = e.value("responseStatus", json::object()).value("code", 0);
    w.received = parseTime(e.value("requestReceivedTimestamp", ""));
    w.completed = parseTime(e.value("stageTimestamp", ""));
    if (w.resource == "leases" && e.contains("requestObject"))
      w.holder = e["requestObject"].value("spec", json::object()).value("holderIdentity", "");
    out.push_back(std::move(w));
  }
  return out;
}

struct Term {
  std::string holder;
  WallTime from{}, until = WallTime::max();
};

struct LeaseCheck {
  std::vector<Term> terms;  // the Lease's holders in order, from its successful writes
  int writesChecked = 0;
  std::vector<std::string> violations;
  // By identity: its writes' completion times, in order.
  std::map<std::string, std::vector<WallTime>> writesBy;
};

// Checks every write of the operator processes `identities` against the
// holder of Lease `leaseName` at its time.
LeaseCheck checkWrites(const std::string& leaseName, const std::set<std::string>& identities) {
  const auto all = readAudit();
  LeaseCheck c;
  std::vector<const AuditWrite*> leaseWrites;
  for (const auto& w : all)
    if (w.resource == "leases" && w.ns == kLeaseNs && w.name == leaseName && w.code >= 200 &&
        w.code < 300 && (w.verb == "create" || w.verb == "update"))
      leaseWrites.push_back(&w);
  std::sort(leaseWrites.begin(), leaseWrites.end(),
            [](const auto* a, const auto* b) { return a->completed < b->completed; });
  for (const auto* w : leaseWrites) {
    if (!c.terms.empty() && c.terms.back().holder == w->holder) continue;  // a renewal
    if (!c.terms.empty()) c.terms.back().until = w->completed;
    c.terms.push_back({w->holder, w->completed});
  }
  auto heldBy = [&](const std::string& who, WallTime from, WallTime to) {
    for (const auto& t : c.terms)
      if (t.holder == who && t.from <= from && to <= t.until) return true;
    return false;
  };
  for (const auto& w : all) {
    if (!identities.count(w.who) || w.resource == "leases" || w.resource == "events") continue;
    ++c.writesChecked;
    c.writesBy[w.who].push_back(w.completed);
    if (!heldBy(w.who, w.received, w.completed))
      c.violations.push_back(w.who + ": " + w.str() + " received " +
                             formatRfc3339(w.received, TimePrecision::Micros) +
                             " while it did not hold the Lease");
  }
  for (auto& [who, times] : c.writesBy) std::sort(times.begin(), times.end());
  return c;
}

// --- The workload ------------------------------------------------------

json scalingGroup(const std::string& name, int min, int max, int desired) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ScalingGroup"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"minSize", min},
            {"maxSize", max},
            {"desiredCapacity", desired},
            {"launchTemplateRef", {{"name", "web"}}}}}};
}

void kubectlApply(const std::string& ns, const json& manifest) {
  auto [code, out] = kubectl({"apply", "-n", ns, "-f", writeManifest(manifest)});
  ASSERT_EQ(code, 0) << out;
}

// A user who keeps changing a group's desired capacity, so that the leader
// always has Instances to launch or terminate.
class Churn {
 public:
  Churn(std::string ns, std::string group) : ns_(std::move(ns)), group_(std::move(group)) {
    thread_ = std::jthread([this](std::stop_token st) {
      RestClient c(adminConfig());
      int step = 0;
      while (!st.stop_requested()) {
        const int desired = step++ % 2 == 0 ? 5 : 2;
        try {
          c.patch(kGroups, ns_, group_, PatchType::Merge,
                  {{"spec", {{"desiredCapacity", desired}}}});
        } catch (const std::exception&) {
        }
        for (int i = 0; i < 40 && !st.stop_requested(); ++i) std::this_thread::sleep_for(100ms);
      }
    });
  }

 private:
  std::string ns_, group_;
  std::jthread thread_;
};

std::string leaseHolder(Client& c, const std::string& lease) {
  try {
    return c.get(kLeases, kLeaseNs, lease)["spec"].value("holderIdentity", "");
  } catch (const ApiError&) {
    return "";
  }
}

std::string describe(const LeaseCheck& c) {
  std::string out = "terms:";
  for (const auto& t : c.terms)
    out += "\n  " + (t.holder.empty() ? std::string("(released)") : t.holder) + " from " +
           formatRfc3339(t.from, TimePrecision::Micros);
  out += "\nviolations:";
  for (std::size_t i = 0; i < c.violations.size() && i < 20; ++i) out += "\n  " + c.violations[i];
  return out;
}

// The operators' Lease namespace.
void ensureLeaseNamespace() {
  RestClient c(adminConfig());
  try {
    c.create(kNamespaces, "",
             {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kLeaseNs}}}});
  } catch (const ApiError& e) {
    if (!e.isAlreadyExists()) throw;
  }
}

class LeaderElection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = new SimulatedNamespace("leader", {.bootDelayMs = 300, .ipRangeStart = "127.9.0.1"});
    ensureLeaseNamespace();
    kubectlApply("leader", launchTemplate("web"));
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }

  // The group's Instances that run.
  int running(const std::string& g) {
    int n = 0;
    for (const auto& i :
         client
             .list(kInstances, "leader", {.labelSelector = "compute.kubec2.io/scaling-group=" + g})
             .items)
      if (i.value("status", json::object()).value("state", "") == "running") ++n;
    return n;
  }

  LeaderCandidate* leaderOf(std::vector<std::unique_ptr<LeaderCandidate>>& ops,
                            const std::string& lease) {
    const std::string holder = leaseHolder(client, lease);
    for (auto& o : ops)
      if (!holder.empty() && o->identity() == holder) return o.get();
    return nullptr;
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
};
SimulatedNamespace* LeaderElection::sim_ = nullptr;

TEST_F(LeaderElection, KillNineOfTheLeaderTheStandbyTakesOverAndNeverBothWrite) {
  const int kills = fullSize() ? 20 : 3;
  const std::string lease = "kill-nine";
  kubectlApply("leader", scalingGroup("kill", 0, 6, 2));
  std::vector<std::unique_ptr<LeaderCandidate>> ops;
  std::set<std::string> identities;
  int n = 0;
  auto launch = [&] {
    ops.push_back(std::make_unique<LeaderCandidate>(lease, "leader", n++));
    LeaderCandidate& o = *ops.back();
    EXPECT_TRUE(eventually([&] { return !o.identity().empty(); }, 30s)) << o.output();
    identities.insert(o.identity());
  };
  launch();
  launch();
  LeaderCandidate* leader = nullptr;
  ASSERT_TRUE(eventually([&] { return (leader = leaderOf(ops, lease)) != nullptr; }, 60s));
  ASSERT_TRUE(eventually([&] { return running("kill") == 2; }, 90s)) << tail(leader->output());
  Churn churn("leader", "kill");

  struct Kill {
    std::string old, next;
    WallTime at;
  };
  std::vector<Kill> done;
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(3s);  // the leader mid-work: launches and terminations under way
    leader = leaderOf(ops, lease);
    ASSERT_NE(leader, nullptr);
    const std::string old = leader->identity();
    const WallTime at = std::chrono::system_clock::now();
    leader->process().signal(SIGKILL);
    leader->process().wait(10s);
    LeaderCandidate* next = nullptr;
    ASSERT_TRUE(eventually(
        [&] {
          next = leaderOf(ops, lease);
          return next && next->identity() != old;
        },
        kLeaseDuration + 4 * kRetryPeriod + 10s))
        << "no take-over after kill " << k;
    done.push_back({old, next->identity(), at});
    std::erase_if(ops, [&](const auto& o) { return o->identity() == old; });
    launch();  // the new standby, as a Deployment would restart the pod
  }
  ASSERT_TRUE(eventually([&] { return running("kill") >= 2; }, 90s));
  for (auto& o : ops) {
    o->process().stop(40s);
  }

  LeaseCheck c = checkWrites(lease, identities);
  EXPECT_TRUE(c.violations.empty()) << describe(c);
  EXPECT_GT(c.writesChecked, 10 * kills) << "the leaders had writes to make";
  double worstTakeOver = 0, worstSilence = 0, worstFirst = 0, sumTakeOver = 0;
  for (const auto& k : done) {
    // The new holder's term that began after the kill.
    WallTime acquired{};
    for (const auto& t : c.terms)
      if (t.holder == k.next && t.from > k.at) {
        acquired = t.from;
        break;
      }
    ASSERT_NE(acquired, WallTime{}) << describe(c);
    const auto& oldWrites = c.writesBy[k.old];
    const auto& newWrites = c.writesBy[k.next];
    ASSERT_FALSE(oldWrites.empty()) << "the killed leader had written nothing";
    const auto first = std::lower_bound(newWrites.begin(), newWrites.end(), acquired);
    const double takeOver = seconds(acquired - k.at);
    const double silence = seconds(acquired - oldWrites.back());
    const double firstWrite = first == newWrites.end() ? -1 : seconds(*first - acquired);
    std::printf(
        "kill: last write of the old leader %.2f s before the kill, take-over %.2f s "
        "after it, first write of the new leader %.3f s after the take-over\n",
        seconds(k.at - oldWrites.back()), takeOver, firstWrite);
    // The standby takes over leaseDuration after it saw the last renewal,
    // which it sees up to one jittered retry period (x2.2) late, and it
    // notices the expiry up to one more late: 15 + 2 * 4.4 s at most.
    EXPECT_LE(takeOver, std::chrono::duration<double>(kLeaseDuration).count() +
                            2 * 2.2 * std::chrono::duration<double>(kRetryPeriod).count() + 1.0);
    EXPECT_GE(firstWrite, 0) << "the new leader wrote nothing";
    worstTakeOver = std::max(worstTakeOver, takeOver);
    worstSilence = std::max(worstSilence, silence);
    worstFirst = std::max(worstFirst, firstWrite);
    sumTakeOver += takeOver;
  }
  std::printf(
      "leader kill -9 x%d: writes checked %d, violations %zu; take-over after the kill: "
      "mean %.2f s, worst %.2f s; no writes for at most %.2f s; first write after "
      "acquiring at most %.3f s\n",
      kills, c.writesChecked, c.violations.size(), sumTakeOver / kills, worstTakeOver, worstSilence,
      worstFirst);
}

TEST_F(LeaderElection, ALeaderStoppedPastTheLeaseWritesNothingWhenItWakes) {
  const std::string lease = "sigstop";
  kubectlApply("leader", scalingGroup("stop", 0, 6, 2));
  std::vector<std::unique_ptr<LeaderCandidate>> ops;
  std::set<std::string> identities;
  for (int i = 0; i < 2; ++i) {
    ops.push_back(std::make_unique<LeaderCandidate>(lease, "leader", 100 + i));
    LeaderCandidate& o = *ops.back();
    ASSERT_TRUE(eventually([&] { return !o.identity().empty(); }, 30s)) << o.output();
    identities.insert(o.identity());
  }
  LeaderCandidate* leader = nullptr;
  ASSERT_TRUE(eventually([&] { return (leader = leaderOf(ops, lease)) != nullptr; }, 60s));
  ASSERT_TRUE(eventually([&] { return running("stop") == 2; }, 90s)) << tail(leader->output());
  const std::string stopped = leader->identity();
  std::pair<WallTime, WallTime> window;  // SIGSTOP .. SIGCONT
  {
    Churn churn("leader", "stop");
    std::this_thread::sleep_for(3s);
    const WallTime stopAt = std::chrono::system_clock::now();
    leader->process().signal(SIGSTOP);
    LeaderCandidate* next = nullptr;
    ASSERT_TRUE(eventually(
        [&] {
          next = leaderOf(ops, lease);
          return next && next != leader;
        },
        kLeaseDuration + 4 * kRetryPeriod + 10s));
    std::this_thread::sleep_for(5s);  // the new leader at work while the old one sleeps
    const WallTime contAt = std::chrono::system_clock::now();
    leader->process().signal(SIGCONT);
    const auto code = leader->process().wait(30s);
    ASSERT_TRUE(code.has_value()) << "still running after it lost the Lease\n"
                                  << tail(leader->output());
    EXPECT_NE(*code, 0);
    EXPECT_NE(leader->output().find("leader election lost"), std::string::npos)
        << tail(leader->output());
    window = {stopAt, contAt};
    std::this_thread::sleep_for(3s);
  }
  ASSERT_TRUE(eventually([&] { return running("stop") >= 2; }, 90s));
  for (auto& o : ops) {
    if (o.get() == leader) continue;
    o->process().stop(40s);
  }
  LeaseCheck c = checkWrites(lease, identities);
  EXPECT_TRUE(c.violations.empty()) << describe(c);
  WallTime acquired{};
  for (const auto& t : c.terms)
    if (!t.holder.empty() && t.holder != stopped && t.from > window.first) {
      acquired = t.from;
      break;
    }
  ASSERT_NE(acquired, WallTime{}) << describe(c);
  int afterWaking = 0;
  for (const auto& t : c.writesBy[stopped]) afterWaking += t > window.second ? 1 : 0;
  EXPECT_EQ(afterWaking, 0);
  const std::string out = leader->output();
  std::size_t refused = 0;
  for (std::size_t at = 0; (at = out.find("NotLeader", at)) != std::string::npos; ++at) ++refused;
  std::printf(
      "leader SIGSTOP for %.1f s: the standby took over %.2f s after the stop; writes "
      "checked %d, violations %zu; writes by the stopped leader after SIGCONT %d; writes "
      "it refused to send after waking (NotLeader in its log) %zu\n",
      seconds(window.second - window.first), seconds(acquired - window.first), c.writesChecked,
      c.violations.size(), afterWaking, refused);
  EXPECT_GT(c.writesChecked, 10);
}

// --- The webhook down ----------------------------------------------------

// The shipped webhook configurations (deploy/base/webhook.yaml) named
// `name`, pointed at `url` where nothing answers, for namespace `ns` only
// (the other tests' namespaces stay out of it), with `failurePolicy`.
json downConfig(const std::string& kind, const std::string& name, const std::string& url,
                const std::string& ns, const std::string& failurePolicy) {
  json c = shippedWebhookConfiguration(kind, name, url);
  c["metadata"] = {{"name", name}};
  for (auto& w : c["webhooks"]) {
    EXPECT_EQ(w.value("failurePolicy", ""), "Fail") << "as shipped";
    w["failurePolicy"] = failurePolicy;
    // kube-apiserver 1.20 does not label namespaces with their name yet.
    w["namespaceSelector"] = {{"matchLabels", {{"kubec2-test/webhook-down", ns}}}};
  }
  return c;
}

class WebhookDown : public ::testing::Test {
 protected:
  static constexpr const char* kNs = "webhook-down";
  static constexpr const char* kConfig = "kubec2-down";

  void installConfigs(const std::string& failurePolicy) {
    removeConfigs();
    const std::string url = "https://127.0.0.1:" + std::to_string(deadPort_);
    client.create(kValidating, "", downConfig(kValidating.kind, kConfig, url, kNs, failurePolicy));
    client.create(kMutating, "", downConfig(kMutating.kind, kConfig, url, kNs, failurePolicy));
  }
  void removeConfigs() {
    for (const Resource* r : {&kValidating, &kMutating}) {
      try {
        client.del(*r, "", kConfig);
      } catch (const ApiError& e) {
        if (!e.isNotFound()) throw;
      }
    }
  }
  int running(const std::string& g) {
    int n = 0;
    for (const auto& i :
         client.list(kInstances, kNs, {.labelSelector = "compute.kubec2.io/scaling-group=" + g})
             .items)
      if (i.value("status", json::object()).value("state", "") == "running") ++n;
    return n;
  }
  void TearDown() override { removeConfigs(); }

  RestClient client{adminConfig()};
  int deadPort_ = freePort();
};

json instance(const std::string& name) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}}},
          {"spec", {{"launchTemplateRef", {{"name", "web"}}}}}};
}

TEST_F(WebhookDown, FailPolicyRefusesUsersWritesWhileTheOperatorsStatusWritesGoOn) {
  ensureLeaseNamespace();
  SimulatedNamespace sim(kNs, {.bootDelayMs = 300, .ipRangeStart = "127.9.1.1"});
  client.patch(kNamespaces, "", kNs, PatchType::Merge,
               {{"metadata", {{"labels", {{"kubec2-test/webhook-down", kNs}}}}}});
  LeaderCandidate op("webhook-down", kNs, 0);
  ASSERT_TRUE(eventually([&] { return !op.identity().empty(); }, 30s)) << op.output();
  kubectlApply(kNs, launchTemplate("web"));
  kubectlApply(kNs, scalingGroup("g", 0, 4, 2));
  ASSERT_TRUE(eventually([&] { return running("g") == 2; }, 90s)) << tail(op.output());

  installConfigs("Fail");
  const WallTime downAt = std::chrono::system_clock::now();
  // The API server picks the configurations up within a moment. A server
  // dry run is admitted like a create (webhooks included) and stores nothing.
  std::string out;
  ASSERT_TRUE(eventually(
      [&] {
        int code = 0;
        std::tie(code, out) =
            kubectl({"apply", "--dry-run=server", "-n", kNs, "-f", writeManifest(instance("new"))});
        return code != 0;
      },
      30s))
      << out;
  // A user's create of each kind is refused, naming the webhook.
  const std::vector<json> creates = {
      instance("new"), launchTemplate("other"), scalingGroup("other", 0, 1, 0),
      json{{"apiVersion", "compute.kubec2.io/v1alpha1"},
           {"kind", "LoadBalancer"},
           {"metadata", {{"name", "lb"}}},
           {"spec", {{"listeners", json::array()}, {"targetGroups", json::array()}}}}};
  for (const json& m : creates) {
    auto [code, text] = kubectl({"apply", "-n", kNs, "-f", writeManifest(m)});
    EXPECT_NE(code, 0) << m["kind"] << " admitted with the webhook down";
    EXPECT_NE(text.find("failed calling webhook \"default.compute.kubec2.io\""), std::string::npos)
        << m["kind"] << ": " << text;
    std::printf("webhook down, kubectl apply of a %s: %s", m["kind"].get<std::string>().c_str(),
                text.c_str());
  }
  // kubectl scale goes through the scale subresource, which the validating
  // webhook covers; and deleting an Instance is validated too.
  auto [scaleCode, scaleOut] = kubectl({"scale", "scalinggroup", "g", "-n", kNs, "--replicas=3"});
  EXPECT_NE(scaleCode, 0);
  EXPECT_NE(scaleOut.find("validate.compute.kubec2.io"), std::string::npos) << scaleOut;
  std::printf("webhook down, kubectl scale: %s", scaleOut.c_str());
  const auto members =
      client.list(kInstances, kNs, {.labelSelector = "compute.kubec2.io/scaling-group=g"}).items;
  ASSERT_EQ(members.size(), 2u);
  const std::string victim = members.front()["metadata"]["name"];
  auto [delCode, delOut] = kubectl({"delete", "instance", victim, "-n", kNs, "--wait=false"});
  EXPECT_NE(delCode, 0);
  EXPECT_NE(delOut.find("validate.compute.kubec2.io"), std::string::npos) << delOut;

  // The operator's status writes (the status subresource, which no webhook
  // covers) go on: a crashed VM shows in its Instance's status.
  const auto [fc, fb] = http("POST", sim.controlUrl() + "/faults",
                             json{{"namespace", kNs}, {"name", victim}, {"fault", "crash"}}.dump());
  ASSERT_EQ(fc, 200) << fb;
  EXPECT_TRUE(eventually(
      [&] {
        return client.get(kInstances, kNs, victim)
                   .value("status", json::object())
                   .value("state", "") != "running";
      },
      60s))
      << tail(op.output());
  std::this_thread::sleep_for(5s);  // what else the operator tries meanwhile
  const WallTime upAt = std::chrono::system_clock::now();
  removeConfigs();
  // Back up: the group heals (the crashed instance replaced) and a user's
  // kubectl scale works again.
  ASSERT_TRUE(eventually(
      [&] {
        return kubectl({"scale", "scalinggroup", "g", "-n", kNs, "--replicas=3"}).first == 0;
      },
      30s));
  EXPECT_TRUE(eventually([&] { return running("g") == 3; }, 120s)) << tail(op.output());

  // What the operator wrote while the webhook was down, from the audit log.
  std::map<std::string, std::pair<int, int>> byResource;  // resource -> (ok, refused)
  for (const auto& w : readAudit()) {
    if (w.who != op.identity() || w.received < downAt || w.completed > upAt) continue;
    if (w.resource == "leases" || w.resource == "events") continue;
    auto& [ok, refused] =
        byResource[w.resource + (w.subresource.empty() ? "" : "/" + w.subresource) + " " + w.verb];
    (w.code < 300 ? ok : refused) += 1;
  }
  std::string summary;
  for (const auto& [what, n] : byResource)
    summary += "  " + what + ": " + std::to_string(n.first) + " accepted, " +
               std::to_string(n.second) + " refused\n";
  std::printf("the operator's writes with the webhook down (failurePolicy Fail):\n%s",
              summary.c_str());
  EXPECT_GT(
      byResource["instances/status patch"].first + byResource["instances/status update"].first, 0)
      << summary;

  // failurePolicy Ignore: the same create is admitted, neither defaulted nor
  // validated by the webhook.
  installConfigs("Ignore");
  EXPECT_TRUE(eventually(
      [&] {
        return kubectl({"apply", "-n", kNs, "-f", writeManifest(instance("ignored"))}).first == 0;
      },
      30s));
  removeConfigs();
  op.process().stop(40s);
}

}  // namespace
}  // namespace kube::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kube::globalInit();
  kube::testing::ControlPlaneOptions opts;
  opts.crds = kube::testing::computeCrdFiles();
  const auto kubevirt = kube::testing::kubevirtCrdFiles();
  opts.crds.insert(opts.crds.end(), kubevirt.begin(), kubevirt.end());
  opts.auditPolicy =
      std::string(KUBEC2_SOURCE_DIR) + "/tests/reliability/testdata/leader-audit-policy.yaml";
  ::testing::AddGlobalTestEnvironment(new kube::testing::ControlPlaneEnvironment(opts));
  return RUN_ALL_TESTS();
}
