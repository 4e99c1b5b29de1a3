// Control-plane restarts (issue 15): kube-apiserver, then etcd, restarted in
// the middle of a scale-out while the operator keeps running (the same
// process throughout). The operator must resume its watches by itself: after
// the restarts the test raises the capacity, which the operator learns of
// only through its ScalingGroup watch; the group creates nothing more until
// its Instance informer has seen its creates (docs/scaling-groups.md, "Never
// more than the capacity in force"; five minutes otherwise, beyond the
// deadline), and an Instance reaches `running` only through the VMI watch.
#include "tests/reliability/crash_harness.h"

namespace kube::testing::crash {
namespace {

std::string str(long v) {
  return std::to_string(v);
}
std::string secs(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", s);
  return b;
}

class ControlPlaneRestart : public CrashTest {
 protected:
  // A scale-out from 0 to n with `restarts` restarts (by `restart`) at
  // random moments between a fifth and four fifths of the way.
  void scaleOutThrough(const std::string& g, const std::string& what, long n, int restarts,
                       const std::function<void()>& restart) {
    auto rng = testRng();
    CrashOperator& op = CrashEnvironment::op();
    const int launchesBefore = op.launches();
    create(kTemplates, launchTemplate(g, 1));
    create(kGroups, scalingGroup(g, {{"launchTemplateRef", {{"name", g}}},
                                     {"minSize", 0},
                                     {"maxSize", n},
                                     {"desiredCapacity", 0}}));
    ASSERT_TRUE(eventually([&] { return status(g).value("desiredCapacity", -1) == 0; }, 60s))
        << explain(g);

    CreationRecorder rec(kNs, g);
    CapacitySampler sampler(kNs, g, n);
    const auto moments = randomMoments(rng, restarts, n / 5, 4 * n / 5);
    const auto created = [&] { return rec.countInstances([](const auto&) { return true; }); };
    long createdAtLastRestart = 0;
    double restartSeconds = 0;
    const auto t0 = std::chrono::steady_clock::now();
    patchSpec(kGroups, g, {{"desiredCapacity", n}});
    std::string why;
    ASSERT_TRUE(atMoments(
        moments, created,
        [&](const Moment&) {
          const auto r0 = std::chrono::steady_clock::now();
          restart();
          restartSeconds = std::max(
              restartSeconds,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count());
          // For the report only: a fast operator may finish the scale-out
          // before this list (the scale-up after the restarts is the check).
          retryWrite([&] { createdAtLastRestart = static_cast<long>(instances(g).size()); });
        },
        120s, &why))
        << why << "\n"
        << explain(g);
    ASSERT_TRUE(converges(g, n));
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // After the restarts, a change the operator can only learn of through
    // its ScalingGroup watch, acted on through its Instance and VM watches.
    const long more = n / 5;
    sampler.setBound(n + more);
    patchSpec(kGroups, g, {{"maxSize", n + more}, {"desiredCapacity", n + more}});
    ASSERT_TRUE(converges(g, n + more))
        << "no action after the restart: its watches did not resume";
    sampler.stop();

    EXPECT_TRUE(op.running()) << "the operator exited:\n" << op.tail();
    EXPECT_EQ(op.launches(), launchesBefore) << "the operator was restarted";
    EXPECT_TRUE(consistent(g));
    EXPECT_EQ(sampler.violations(), std::vector<std::string>{});
    EXPECT_EQ(static_cast<long>(rec.instances().size()), n + more) << "Instances created";
    EXPECT_TRUE(eventually([&] { return static_cast<long>(rec.vms().size()) == n + more; }, 10s))
        << "VMs created: " << rec.vms().size();
    report(what + " during scale-out 0->" + str(n) + ", then ->" + str(n + more),
           {{"restarts", str(restarts)},
            {"slowestRestartSeconds", secs(restartSeconds)},
            {"createdAtLastRestart", str(createdAtLastRestart)},
            {"seconds", secs(total)},
            {"instancesCreated", str(static_cast<long>(rec.instances().size()))},
            {"vmsCreated", str(static_cast<long>(rec.vms().size()))},
            {"peak", str(sampler.peak())},
            {"failedSamples", str(sampler.failedSamples())},
            {"overCapacitySamples", str(static_cast<long>(sampler.violations().size()))}});
  }

  static long size() { return fullSize() ? 150 : 30; }
  static int restarts() { return fullSize() ? 3 : 1; }
};

TEST_F(ControlPlaneRestart, ApiServerRestartMidScaleOut) {
  scaleOutThrough("apiserver", "kube-apiserver restart", size(), restarts(),
                  [] { ControlPlaneEnvironment::get().restartApiServer(); });
}

TEST_F(ControlPlaneRestart, EtcdRestartMidScaleOut) {
  scaleOutThrough("etcd", "etcd restart", size(), restarts(),
                  [] { ControlPlaneEnvironment::get().restartEtcd(); });
}

}  // namespace
}  // namespace kube::testing::crash
