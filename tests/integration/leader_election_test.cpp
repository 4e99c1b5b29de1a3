// Leader election between two electors on a real Lease: one leads at a time,
// and the other takes over when the first releases the Lease or dies.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/leader_election.h"
#include "tests/integration/helpers.h"

namespace kube::testing {
namespace {

const Resource kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};

struct Candidate {
  std::atomic<bool> leading{false};
  std::atomic<int> terms{0};
  std::unique_ptr<LeaderElector> elector;
  std::stop_source stop;
  std::thread thread;

  Candidate(RestClient& client, const std::string& ns, const std::string& identity, bool release) {
    LeaderElectionOptions o;
    o.namespace_ = ns;
    o.name = "kubec2-test";
    o.identity = identity;
    o.leaseDuration = std::chrono::milliseconds(3000);
    o.renewDeadline = std::chrono::milliseconds(2000);
    o.retryPeriod = std::chrono::milliseconds(500);
    o.releaseOnStop = release;
    o.onStartedLeading = [this](std::stop_token) {
      leading = true;
      terms++;
    };
    o.onStoppedLeading = [this] { leading = false; };
    elector =
        std::make_unique<LeaderElector>(o, makeLeaseClient(client.config(), o.renewDeadline / 3));
    thread = std::thread([this] { elector->run(stop.get_token()); });
  }
  void stopAndJoin() {
    stop.request_stop();
    if (thread.joinable()) thread.join();
  }
  ~Candidate() { stopAndJoin(); }
};

TEST(LeaderElection, HandOverOnReleaseAndOnExpiry) {
  RestClient client(adminConfig());
  std::string ns = createNamespace(client, "lease");
  auto a = std::make_unique<Candidate>(client, ns, "manager-a", true);
  ASSERT_TRUE(eventually([&] { return a->leading.load(); }));
  auto b = std::make_unique<Candidate>(client, ns, "manager-b", false);
  // b must not lead while a renews.
  EXPECT_FALSE(eventually([&] { return b->leading.load(); }, std::chrono::milliseconds(4000)));
  auto lease = client.get(kLeases, ns, "kubec2-test");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "manager-a");

  // a stops gracefully and releases: b takes over well before a lease duration.
  auto released = std::chrono::steady_clock::now();
  a->stopAndJoin();
  EXPECT_FALSE(a->leading.load());
  ASSERT_TRUE(eventually([&] { return b->leading.load(); }, std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - released, std::chrono::milliseconds(2500));
  lease = client.get(kLeases, ns, "kubec2-test");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "manager-b");
  EXPECT_GE(lease["spec"]["leaseTransitions"].get<int>(), 1);

  // b "dies" without releasing (releaseOnStop false): c waits for expiry, then leads.
  b->stopAndJoin();
  auto c = std::make_unique<Candidate>(client, ns, "manager-c", true);
  ASSERT_TRUE(eventually([&] { return c->leading.load(); }, std::chrono::seconds(15)));
  EXPECT_EQ(client.get(kLeases, ns, "kubec2-test")["spec"]["holderIdentity"], "manager-c");
}

TEST(LeaderElection, LosingTheLeaseStopsLeading) {
  RestClient client(adminConfig());
  std::string ns = createNamespace(client, "steal");
  Candidate a(client, ns, "manager-a", true);
  ASSERT_TRUE(eventually([&] { return a.leading.load(); }));
  // Someone else takes the Lease behind a's back (an operator by hand, or a
  // partition that let it expire): a must stop leading at once.
  auto lease = client.get(kLeases, ns, "kubec2-test");
  lease["spec"]["holderIdentity"] = "intruder";
  client.update(kLeases, ns, lease);
  ASSERT_TRUE(eventually([&] { return !a.leading.load(); }, std::chrono::seconds(10)));
  EXPECT_EQ(a.terms.load(), 1);
}

}  // namespace
}  // namespace kube::testing
