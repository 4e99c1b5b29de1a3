// Informers of an API installed after the operator starts: discovery is
// asked until it is served (a failed ask is not "missing"), then the
// informers run and onServed is called once.
#include "runtime/optional_api.h"

#include <thread>

#include <gtest/gtest.h>

#include "runtime/client_wrapper.h"
#include "runtime/fake_client.h"

namespace kube {
namespace {

using namespace std::chrono_literals;

const Resource kVms{"kubevirt.io", "v1", "virtualmachines", true, "VirtualMachine"};

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 2000 && !f(); ++i) std::this_thread::sleep_for(1ms);
  return f();
}

TEST(OptionalApi, WaitsForTheApiThenRunsItsInformers) {
  FakeClient api;
  FaultInjectingClient faulty(api);
  faulty.inject({.verb = "discovery"}, FaultInjectingClient::internalError());
  std::atomic<int> served{0};
  auto kv = std::make_shared<OptionalApi>(
      faulty, OptionalApi::Options{
                  .name = "KubeVirt", .retryPeriod = 1ms, .missingPeriod = 1ms, .onServed = [&] {
                    ++served;
                  }});
  auto& vms = kv->informer(kVms, {.minBackoff = 1ms});
  auto runnable = OptionalApi::runnable(kv);
  EXPECT_FALSE(runnable->needsLeaderElection()) << "every replica keeps warm caches";
  std::stop_source stop;
  std::thread t([&] { runnable->start(stop.get_token()); });
  // The failed ask leaves it Unknown; the next says Missing.
  ASSERT_TRUE(eventually([&] { return kv->state() == OptionalApi::State::Missing; }));
  EXPECT_EQ(served, 0);
  api.serve(kVms);
  api.create(kVms, "ns", {{"metadata", {{"name", "vm"}}}});
  ASSERT_TRUE(eventually([&] { return kv->synced() && vms.store().size() == 1; }));
  EXPECT_EQ(kv->state(), OptionalApi::State::Served);
  EXPECT_EQ(served, 1);
  stop.request_stop();
  t.join();
}

}  // namespace
}  // namespace kube
