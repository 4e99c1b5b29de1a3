// The pieces of the crash-consistency tests (docs/reliability.md, "Crash
// consistency and control-plane restarts"):
//  - CrashOperator: the operator binary with its admission webhook
//    (tests/integration/operator_process.h) at bench/scaling-group.sh's
//    client rate, that a test kill -9's and starts again with the same
//    flags and ports;
//  - CreationRecorder: every Instance and VM uid a watch ever showed (list,
//    then watch, resumed across API server and etcd restarts by the
//    runtime's Reflector), to count creates: a duplicate create shows up as
//    one uid too many even when its object was deleted again;
//  - CapacitySampler: lists a group's Instances every 200 ms and keeps the
//    samples above the capacity in force;
//  - the size (KUBEC2_RELIABILITY_SIZE=full) and the seed of the kill moments
//    (KUBEC2_RELIABILITY_SEED replays them).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/informer.h"
#include "tests/integration/compute/group_probe.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/operator_process.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing::crash {

using namespace std::chrono_literals;
using nlohmann::json;

inline constexpr const char* kGroupLabel = "compute.kubec2.io/scaling-group";
inline constexpr const char* kWarmPoolLabel = "compute.kubec2.io/warm-pool";
inline constexpr const char* kLaunchedFor = "compute.kubec2.io/launched-for";

// KUBEC2_RELIABILITY_SIZE=full: the sizes (make reliability).
inline bool fullSize() {
  const char* s = std::getenv("KUBEC2_RELIABILITY_SIZE");
  return s != nullptr && std::string(s) == "full";
}

// The run's seed: KUBEC2_RELIABILITY_SEED, or a random one, printed once so
// that a failing run can be replayed. A replay repeats the kill moments
// (progress thresholds and delays), not the exact interleaving of the
// processes, which the scheduler decides.
inline std::uint64_t runSeed() {
  static const std::uint64_t seed = [] {
    const char* s = std::getenv("KUBEC2_RELIABILITY_SEED");
    std::uint64_t v = 0;
    if (s != nullptr && *s != '\0')
      v = std::stoull(s);
    else
      v = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    std::printf("reliability_crash: seed %llu (KUBEC2_RELIABILITY_SEED=%llu replays it)\n",
                static_cast<unsigned long long>(v), static_cast<unsigned long long>(v));
    std::fflush(stdout);
    return v;
  }();
  return seed;
}

// A generator per test, from the run's seed and the test's name, so that one
// test's draws do not depend on which tests ran before it.
inline std::mt19937_64 testRng() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = info ? std::string(info->name()) : "";
  return std::mt19937_64(runSeed() ^ std::hash<std::string>{}(name));
}

// Retries a write for up to `within`: the webhook (failurePolicy Fail)
// refuses while the operator is down, and the API server may be restarting.
inline void retryWrite(const std::function<void()>& write, std::chrono::seconds within = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    try {
      write();
      return;
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(200ms);
    }
  }
}

// The operator under test, with its webhook (deploy/base/webhook.yaml as
// shipped: failurePolicy Fail). One process at a time; every incarnation
// appends to the same log, after a line naming it.
class CrashOperator {
 public:
  static constexpr const char* kConfigName = "kubec2-crash";
  static constexpr const char* kNamespace = "kubec2-system";

  CrashOperator()
      : process_({.logFile = ControlPlaneEnvironment::get().dir() + "/operator-crash.log",
                  .metricsPort = freePort(),
                  .webhookPort = freePort(),
                  .webhookSecretNamespace = kNamespace,
                  .webhookConfigurationName = kConfigName,
                  .operatorNamespace = kNamespace,
                  .extraArgs = {"--terminated-instance-retention-seconds", "1",
                                // bench/scaling-group.sh's client rate, so that
                                // 300 instances fit the full run's time; the
                                // default (20/s) changes nothing but the pace.
                                "--kube-api-qps", "100", "--kube-api-burst", "200", "--log-level",
                                "info"}}) {
    process_.installWebhookConfigurations();
    process_.start();
    // Ready once both configurations carry the CA of the operator's Secret.
    process_.waitForWebhook();
  }
  ~CrashOperator() {
    process_.stop();
    process_.removeWebhookConfigurations();
  }
  CrashOperator(const CrashOperator&) = delete;
  CrashOperator& operator=(const CrashOperator&) = delete;

  // kill -9, as the kernel's OOM killer or a node failure would, then start
  // again at once, as the Deployment's kubelet would (without its backoff).
  void killAndRestart() {
    process_.kill();
    ++kills_;
    process_.start();
  }
  int kills() const { return kills_; }
  int launches() const { return process_.starts(); }
  // True while the current incarnation runs (it has not exited by itself).
  bool running() { return process_.running(); }
  std::string tail(std::size_t chars = 6000) const { return process_.tail(chars); }
  const std::string& logPath() const { return process_.logFile(); }

 private:
  OperatorProcess process_;
  int kills_ = 0;
};

// Every Instance and VM of one group a watch ever showed, by uid.
class CreationRecorder {
 public:
  struct Seen {
    std::string name;
    json object;           // the last state seen
    bool deleted = false;  // a DELETED event, or gone from a relist
  };

  CreationRecorder(const std::string& ns, const std::string& group)
      : client_(adminConfig()),
        instances_(client_, kInstances,
                   {.namespace_ = ns, .labelSelector = std::string(kGroupLabel) + "=" + group},
                   instanceSink_),
        vms_(client_, kVMs,
             {.namespace_ = ns, .labelSelector = std::string(kGroupLabel) + "=" + group}, vmSink_) {
    threads_.emplace_back([this](std::stop_token st) { instances_.run(st); });
    threads_.emplace_back([this](std::stop_token st) { vms_.run(st); });
    if (!eventually([&] { return instances_.hasSynced() && vms_.hasSynced(); }, 60s))
      throw std::runtime_error("the recorder's watches did not sync: " + instances_.lastError() +
                               " " + vms_.lastError());
  }
  ~CreationRecorder() {
    for (auto& t : threads_) t.request_stop();
  }

  std::map<std::string, Seen> instances() const { return instanceSink_.snapshot(); }
  std::map<std::string, Seen> vms() const { return vmSink_.snapshot(); }
  // Instances ever seen that `pred` holds for (their last state).
  long countInstances(const std::function<bool(const Seen&)>& pred) const {
    long n = 0;
    for (const auto& [uid, s] : instances()) n += pred(s) ? 1 : 0;
    return n;
  }
  long lists() const { return instances_.lists() + vms_.lists(); }
  long watches() const { return instances_.watches() + vms_.watches(); }

 private:
  class Sink : public Reflector::Sink {
   public:
    void beginList() override { listed_.clear(); }
    void listItem(std::string_view text) override {
      json o = json::parse(text);
      listed_.insert(o["metadata"].value("uid", ""));
      upsert(std::move(o));
    }
    void endList() override {
      // Gone from a relist: deleted while the watch was down.
      std::lock_guard lock(mu_);
      for (auto& [uid, s] : seen_)
        if (!listed_.contains(uid)) s.deleted = true;
    }
    void abortList() override {}
    void upsert(json&& o) override {
      std::lock_guard lock(mu_);
      const std::string uid = o["metadata"].value("uid", "");
      Seen& s = seen_[uid];
      s.name = o["metadata"].value("name", "");
      s.object = std::move(o);
    }
    void erase(json&& o) override {
      std::lock_guard lock(mu_);
      Seen& s = seen_[o["metadata"].value("uid", "")];
      s.name = o["metadata"].value("name", "");
      s.object = std::move(o);
      s.deleted = true;
    }
    std::map<std::string, Seen> snapshot() const {
      std::lock_guard lock(mu_);
      return seen_;
    }

   private:
    mutable std::mutex mu_;
    std::map<std::string, Seen> seen_;
    std::set<std::string> listed_;  // only the reflector's thread touches it
  };

  RestClient client_;
  Sink instanceSink_, vmSink_;
  Reflector instances_, vms_;
  std::vector<std::jthread> threads_;
};

// The capacity in force, sampled: every ~200 ms, the group's Instances that
// count against it. docs/scaling-groups.md, "Never more than the capacity in
// force": an Instance being deleted no longer counts; the warm pool is
// outside the capacity ("Warm pool"); zone rebalancing may launch one above
// it (annotation launched-for=rebalance); an instance refresh may hold up to
// floor(capacity * maxHealthyPercentage / 100) ("Instance refresh";
// reconcilers/scalinggroup/replacement.h), which the test sets as the bound.
class CapacitySampler {
 public:
  CapacitySampler(const std::string& ns, const std::string& group, long bound)
      : client_(adminConfig()), ns_(ns), group_(group), bound_(bound) {
    thread_ = std::jthread([this](std::stop_token st) { loop(st); });
  }
  ~CapacitySampler() { stop(); }
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  // A new capacity in force (the test changed it).
  void setBound(long bound) { bound_ = bound; }
  long samples() const { return samples_.load(); }
  long failedSamples() const { return failed_.load(); }
  long peak() const { return peak_.load(); }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }

 private:
  void loop(std::stop_token st) {
    while (!st.stop_requested()) {
      try {
        long counted = 0;
        bool rebalancing = false;
        std::string names;
        for (const auto& i :
             client_
                 .list(kInstances, ns_, {.labelSelector = std::string(kGroupLabel) + "=" + group_})
                 .items) {
          const auto& meta = i["metadata"];
          if (meta.contains("deletionTimestamp")) continue;
          if (meta.value("labels", json::object()).value(kWarmPoolLabel, "") == "true") continue;
          if (meta.value("annotations", json::object()).value(kLaunchedFor, "") == "rebalance")
            rebalancing = true;
          ++counted;
          names += " " + meta.value("name", "");
        }
        ++samples_;
        peak_ = std::max(peak_.load(), counted);
        const long allowed = bound_ + (rebalancing ? 1 : 0);
        if (counted > allowed) {
          std::lock_guard lock(mu_);
          violations_.push_back(std::to_string(counted) + " > " + std::to_string(allowed) + ":" +
                                names);
        }
      } catch (const std::exception&) {
        ++failed_;  // the API server restarting
      }
      std::this_thread::sleep_for(200ms);
    }
  }

  RestClient client_;
  std::string ns_, group_;
  std::atomic<long> bound_;
  std::atomic<long> samples_{0}, failed_{0}, peak_{0};
  mutable std::mutex mu_;
  std::vector<std::string> violations_;
  std::jthread thread_;
};

// K moments in a change, chosen at random: each a progress threshold in
// [from, to) plus a delay of up to 500 ms after it is reached. `progress`
// is read from a watch (CreationRecorder), so waiting costs no API calls.
struct Moment {
  long threshold = 0;
  std::chrono::milliseconds delay{0};
};
inline std::vector<Moment> randomMoments(std::mt19937_64& rng, int k, long from, long to) {
  std::uniform_int_distribution<long> at(from, std::max(from, to - 1));
  std::uniform_int_distribution<int> ms(0, 500);
  std::vector<Moment> out;
  for (int i = 0; i < k; ++i) out.push_back({at(rng), std::chrono::milliseconds(ms(rng))});
  std::sort(out.begin(), out.end(),
            [](const Moment& a, const Moment& b) { return a.threshold < b.threshold; });
  return out;
}

// Waits for each moment in turn and calls `act` there. Returns false (with
// `why`) when progress stalls below a threshold for `stall`.
inline bool atMoments(const std::vector<Moment>& moments, const std::function<long()>& progress,
                      const std::function<void(const Moment&)>& act, std::chrono::seconds stall,
                      std::string* why) {
  for (const Moment& m : moments) {
    if (!eventually([&] { return progress() >= m.threshold; }, stall)) {
      *why = "progress stalled at " + std::to_string(progress()) + " below " +
             std::to_string(m.threshold) + " for " + std::to_string(stall.count()) + " s";
      return false;
    }
    std::this_thread::sleep_for(m.delay);
    act(m);
  }
  return true;
}

// The namespace of every test's group, with the KubeVirt simulator in it.
inline constexpr const char* kNs = "crash";

// The simulator and the operator, once for the binary (after the control
// plane's environment).
class CrashEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      // Boots take 200 ms: a kill often finds instances pending.
      sim_ = std::make_unique<SimulatedNamespace>(
          kNs, SimulatedNamespace::Options{.bootDelayMs = 200, .ipRangeStart = "127.9.0.1"});
      op_ = std::make_unique<CrashOperator>();
    } catch (const std::exception& e) {
      GTEST_FAIL() << "cannot start the simulator and the operator: " << e.what();
    }
  }
  void TearDown() override {
    op_.reset();
    sim_.reset();
  }
  static CrashOperator& op() { return *op_; }
  static SimulatedNamespace& sim() { return *sim_; }

 private:
  static inline std::unique_ptr<SimulatedNamespace> sim_;
  static inline std::unique_ptr<CrashOperator> op_;
};

inline json scalingGroup(const std::string& name, json spec) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ScalingGroup"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

// What every test here checks at the end of a change, as a user would with
// kubectl get sg,inst,vm.
class CrashTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // The next test starts with an empty namespace (fewer objects for the
    // operator to hold, and the orphan check sees only its own group).
    for (const auto& g : client.list(kGroups, kNs).items) try {
        client.del(kGroups, kNs, g["metadata"]["name"]);
      } catch (const std::exception&) {
      }
    // And its launch templates, so that a repeated test starts at version 1.
    for (const auto& t : client.list(kTemplates, kNs).items) try {
        client.del(kTemplates, kNs, t["metadata"]["name"]);
      } catch (const std::exception&) {
      }
    EXPECT_TRUE(eventually(
        [&] {
          return client.list(kGroups, kNs).items.empty() &&
                 client.list(kInstances, kNs).items.empty() && client.list(kVMs, kNs).items.empty();
        },
        fullSize() ? 600s : 120s))
        << "groups, instances or VMs left behind\n"
        << CrashEnvironment::op().tail();
  }

  static std::chrono::seconds convergeWithin() { return fullSize() ? 900s : 180s; }

  void create(const Resource& r, const json& obj) {
    retryWrite([&] {
      try {
        client.create(r, kNs, obj);
      } catch (const ApiError& e) {
        if (!e.isAlreadyExists()) throw;
      }
    });
  }
  void patchSpec(const Resource& r, const std::string& name, const json& spec) {
    retryWrite([&] { client.patch(r, kNs, name, PatchType::Merge, {{"spec", spec}}); });
  }
  json status(const std::string& g) {
    try {
      return client.get(kGroups, kNs, g).value("status", json::object());
    } catch (const std::exception&) {
      return json::object();
    }
  }
  std::vector<json> instances(const std::string& g) {
    return client.list(kInstances, kNs, {.labelSelector = std::string(kGroupLabel) + "=" + g})
        .items;
  }
  static std::string state(const json& i) {
    return i.value("status", json::object()).value("state", "");
  }
  static json templateVersion(const json& i) {
    return i.value("spec", json::object())
        .value("launchTemplateRef", json::object())
        .value("version", json());
  }

  // Exactly n Instances of the group (none being deleted), all running and
  // matching `want`, n VMs, and the group saying so (inService == n).
  ::testing::AssertionResult converges(const std::string& g, long n,
                                       const std::function<bool(const json&)>& want = nullptr) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = eventually(
        [&] {
          try {
            const auto all = instances(g);
            if (static_cast<long>(all.size()) != n) return false;
            for (const auto& i : all)
              if (i["metadata"].contains("deletionTimestamp") || state(i) != "running" ||
                  (want && !want(i)))
                return false;
            if (static_cast<long>(client.list(kVMs, kNs).items.size()) != n) return false;
            return status(g).value("inServiceCount", -1) == n;
          } catch (const std::exception&) {
            return false;
          }
        },
        convergeWithin());
    convergedSeconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "the group did not settle at " << n << " running instances and VMs within "
           << convergeWithin().count() << " s\n"
           << explain(g);
  }

  // No duplicate or orphan: each Instance owned by the group, each VM by
  // exactly one existing Instance and each Instance with exactly one VM.
  ::testing::AssertionResult consistent(const std::string& g) {
    const json group = client.get(kGroups, kNs, g);
    const std::string groupUid = group["metadata"].value("uid", "");
    std::map<std::string, int> vmsOf;  // Instance uid -> VMs it owns
    std::string problems;
    for (const auto& i : client.list(kInstances, kNs).items) {
      const auto& meta = i["metadata"];
      vmsOf[meta.value("uid", "")] = 0;
      int owners = 0;
      for (const auto& o : meta.value("ownerReferences", json::array()))
        if (o.value("controller", false) && o.value("kind", "") == "ScalingGroup" &&
            o.value("uid", "") == groupUid)
          ++owners;
      if (owners != 1)
        problems += "\n  Instance " + meta.value("name", "") + " is not controlled by the group";
    }
    for (const auto& vm : client.list(kVMs, kNs).items) {
      const auto& meta = vm["metadata"];
      int owners = 0;
      for (const auto& o : meta.value("ownerReferences", json::array()))
        if (o.value("controller", false) && o.value("kind", "") == "Instance") {
          ++owners;
          auto it = vmsOf.find(o.value("uid", ""));
          if (it == vmsOf.end())
            problems += "\n  VM " + meta.value("name", "") + " is an orphan (its Instance " +
                        o.value("name", "") + " is gone)";
          else
            ++it->second;
        }
      if (owners != 1)
        problems += "\n  VM " + meta.value("name", "") + " has " + std::to_string(owners) +
                    " controlling Instances";
    }
    for (const auto& [uid, n] : vmsOf)
      if (n != 1) problems += "\n  Instance uid " + uid + " has " + std::to_string(n) + " VMs";
    if (problems.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "inconsistent:" << problems;
  }

  std::string explain(const std::string& g) {
    std::string out;
    try {
      out = "group status: " + status(g).dump() + "\ninstances by state:";
      std::map<std::string, int> states;
      for (const auto& i : instances(g))
        ++states[state(i) + (i["metadata"].contains("deletionTimestamp") ? " (deleting)" : "")];
      for (const auto& [s, n] : states) out += " " + s + "=" + std::to_string(n);
      out += "\nVMs: " + std::to_string(client.list(kVMs, kNs).items.size());
      out += "\nactivities (newest first):";
      for (const auto& a : status(g).value("activities", json::array()))
        out += "\n  " + a.value("time", "") + " " + a.value("cause", "") + " " +
               a.value("result", "") + " " + a.value("message", "");
    } catch (const std::exception& e) {
      out += std::string("(cannot read: ") + e.what() + ")";
    }
    return out + "\noperator log tail (" + CrashEnvironment::op().logPath() + "):\n" +
           CrashEnvironment::op().tail();
  }

  // One line for docs/reliability.md, and the same as test properties.
  void report(const std::string& what, const std::map<std::string, std::string>& figures) {
    std::string line = "reliability_crash: " + what + ":";
    for (const auto& [k, v] : figures) {
      line += " " + k + "=" + v;
      RecordProperty(k, v);
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  RestClient client{adminConfig()};
  double convergedSeconds_ = 0;
};

}  // namespace kube::testing::crash
