// Relist after 410 Gone. This binary's API server runs with
// --watch-cache=false so that a watch from a compacted resourceVersion is
// answered with the 410 ERROR frame (with the watch cache on, old watches are
// often served from memory and no 410 appears).
#include <gtest/gtest.h>

#include "runtime/informer.h"
#include "tests/integration/helpers.h"

namespace kube::testing {
namespace {

TEST(WatchExpiry, WatchFromACompactedVersionGetsExpiredFrame) {
  RestClient client(adminConfig());
  std::string ns = createNamespace(client, "expiry");
  auto l = client.list(kWidgets, ns);
  client.create(kWidgets, ns, widget("a"));
  client.create(kWidgets, ns, widget("b"));
  ControlPlaneEnvironment::get().compactEtcd();
  WatchOptions o;
  o.resourceVersion = l.resourceVersion;
  o.timeoutSeconds = 10;
  std::vector<WatchEvent> got;
  client.watch(kWidgets, ns, o, [&](WatchEvent&& e) {
    got.push_back(std::move(e));
    return true;
  });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "ERROR");
  EXPECT_EQ(got[0].object["code"], 410);
}

TEST(WatchExpiry, InformerRelistsAfterGoneAndConverges) {
  RestClient client(adminConfig());
  std::string ns = createNamespace(client, "relist");
  client.create(kWidgets, ns, widget("keep"));
  client.create(kWidgets, ns, widget("drop"));
  // Short server-side watch timeout: the informer re-watches every 2 s from
  // its last resourceVersion, which the compaction below makes too old.
  Informer<RawObject> inf(client, kWidgets, {.namespace_ = ns, .watchTimeoutSeconds = 2});
  std::mutex mu;
  std::vector<std::string> events;
  inf.addHandler({[&](const auto& o) {
                    std::lock_guard g(mu);
                    events.push_back("ADDED " + o->metadata.name);
                  },
                  [&](const auto&, const auto& n) {
                    std::lock_guard g(mu);
                    events.push_back("MODIFIED " + n->metadata.name);
                  },
                  [&](const auto& o) {
                    std::lock_guard g(mu);
                    events.push_back("DELETED " + o->metadata.name);
                  }});
  std::jthread t([&](std::stop_token st) { inf.run(st); });
  ASSERT_TRUE(eventually([&] { return inf.hasSynced(); }));
  EXPECT_EQ(inf.reflector().lists(), 1);

  // Move etcd on in another namespace (our informer sees no event, so its
  // resourceVersion stays old), change ours behind a paused view... then compact.
  std::string other = createNamespace(client, "noise");
  for (int i = 0; i < 3; ++i) client.create(kWidgets, other, widget("n" + std::to_string(i)));
  ControlPlaneEnvironment::get().compactEtcd();

  ASSERT_TRUE(eventually([&] { return inf.reflector().lists() >= 2; }, std::chrono::seconds(30)))
      << "no relist after 410; last error: " << inf.lastError();
  // The relist replaced the store without inventing events for unchanged objects.
  {
    std::lock_guard g(mu);
    EXPECT_EQ(events, (std::vector<std::string>{"ADDED drop", "ADDED keep"}));
  }
  // And the informer keeps following changes after the relist.
  client.del(kWidgets, ns, "drop");
  ASSERT_TRUE(eventually([&] { return inf.store().get(ns, "drop") == nullptr; }));
  EXPECT_NE(inf.store().get(ns, "keep"), nullptr);
}

}  // namespace
}  // namespace kube::testing
