// ReplicaSet-style expectations on a FakeClock: what an owner waits for, how
// events lower it, and the TTL that keeps a lost event from wedging an owner.
#include "runtime/expectations.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/fake_clock.h"

namespace {

using namespace std::chrono_literals;
using Pending = kube::Expectations::Pending;

class ExpectationsTest : public ::testing::Test {
 protected:
  kube::FakeClock clock_;
  kube::Expectations exp_{{.ttl = 5min, .clock = &clock_}};
};

TEST_F(ExpectationsTest, NothingRecordedIsSatisfied) {
  EXPECT_TRUE(exp_.satisfied("ns/web"));
  EXPECT_EQ(exp_.pending("ns/web"), std::nullopt);
  // Events for an owner that expects nothing change nothing.
  exp_.creationObserved("ns/web");
  exp_.deletionObserved("ns/web", "uid-1");
  EXPECT_EQ(exp_.pending("ns/web"), std::nullopt);
}

TEST_F(ExpectationsTest, CreationsPendingUntilEachIsObserved) {
  exp_.expectCreations("ns/web", 3);
  EXPECT_FALSE(exp_.satisfied("ns/web"));
  EXPECT_TRUE(exp_.satisfied("ns/other"));  // per owner
  exp_.creationObserved("ns/web");
  exp_.creationObserved("ns/web");
  EXPECT_FALSE(exp_.satisfied("ns/web"));
  EXPECT_EQ(exp_.pending("ns/web"), (Pending{1, {}, clock_.now()}));
  exp_.creationObserved("ns/web");  // the add event, or a failed create
  EXPECT_TRUE(exp_.satisfied("ns/web"));
  exp_.creationObserved("ns/web");  // one more (a child made by hand) does not go negative
  EXPECT_EQ(exp_.pending("ns/web"), (Pending{0, {}, clock_.now()}));
  exp_.expectCreations("ns/web", 1);
  EXPECT_FALSE(exp_.satisfied("ns/web"));
}

TEST_F(ExpectationsTest, DeletionsTrackedByUid) {
  exp_.expectDeletions("ns/web", {"uid-1", "uid-2", "uid-2"});
  EXPECT_EQ(exp_.pending("ns/web")->deletions, (std::set<std::string>{"uid-1", "uid-2"}));
  exp_.deletionObserved("ns/web", "uid-3");  // not one we deleted
  exp_.deletionObserved("ns/web", "uid-1");
  exp_.deletionObserved("ns/web", "uid-1");  // a repeated delete event counts once
  EXPECT_FALSE(exp_.satisfied("ns/web"));
  exp_.deletionObserved("ns/web", "uid-2");
  EXPECT_TRUE(exp_.satisfied("ns/web"));
}

TEST_F(ExpectationsTest, ExpectReplacesWhatWasPending) {
  exp_.expectCreations("ns/web", 2);
  exp_.expectDeletions("ns/web", {"uid-1"});  // as Kubernetes' SetExpectations
  EXPECT_EQ(exp_.pending("ns/web"), (Pending{0, {"uid-1"}, clock_.now()}));
  exp_.expect("ns/web", 1, {"uid-9"});  // a replacement: one out, one in
  exp_.deletionObserved("ns/web", "uid-9");
  EXPECT_FALSE(exp_.satisfied("ns/web"));
  exp_.creationObserved("ns/web");
  EXPECT_TRUE(exp_.satisfied("ns/web"));
  EXPECT_THROW(exp_.expectCreations("ns/web", -1), std::invalid_argument);
}

TEST_F(ExpectationsTest, ExpiresAfterTheTtlSoALostEventNeverWedgesTheOwner) {
  exp_.expectCreations("ns/web", 2);
  exp_.creationObserved("ns/web");  // the second add event is lost
  clock_.advance(5min - 1s);
  EXPECT_FALSE(exp_.satisfied("ns/web"));
  clock_.advance(1s);
  EXPECT_TRUE(exp_.satisfied("ns/web"));
  EXPECT_TRUE(exp_.satisfied("ns/web"));  // stays so (and is logged once)
  // A new expectation starts a new TTL.
  exp_.expectCreations("ns/web", 1);
  EXPECT_FALSE(exp_.satisfied("ns/web"));
  clock_.advance(5min);
  EXPECT_TRUE(exp_.satisfied("ns/web"));
}

TEST_F(ExpectationsTest, DeleteExpectationsForgetsTheOwner) {
  exp_.expectDeletions("ns/web", {"uid-1"});
  exp_.deleteExpectations("ns/web");
  EXPECT_TRUE(exp_.satisfied("ns/web"));
  EXPECT_EQ(exp_.pending("ns/web"), std::nullopt);
  exp_.deleteExpectations("ns/never");  // no-op
}

TEST_F(ExpectationsTest, ThreadSafeAcrossWorkersAndTheInformer) {
  // Events lowered and read from many threads at once, as informer and workers do.
  constexpr int kOwners = 8;
  constexpr int kEach = 500;
  for (int o = 0; o < kOwners; ++o) exp_.expectCreations("ns/g" + std::to_string(o), kEach);
  {
    std::vector<std::jthread> threads;
    for (int o = 0; o < kOwners; ++o) {
      threads.emplace_back([this, o] {
        const std::string key = "ns/g" + std::to_string(o);
        for (int i = 0; i < kEach; ++i) {
          exp_.creationObserved(key);
          (void)exp_.satisfied(key);
        }
      });
    }
  }
  for (int o = 0; o < kOwners; ++o) EXPECT_TRUE(exp_.satisfied("ns/g" + std::to_string(o)));
}

TEST(Expectations, TtlMustBePositive) {
  EXPECT_THROW(kube::Expectations({.ttl = 0s}), std::invalid_argument);
  kube::Expectations defaults;  // 5 minutes on the system clock
  defaults.expectCreations("k", 1);
  EXPECT_FALSE(defaults.satisfied("k"));
}

}  // namespace
