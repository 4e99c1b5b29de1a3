// The informer against a real API server: sync, ordered events, and a
// kube-apiserver restart in the middle of a watch.
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/informer.h"
#include "tests/integration/helpers.h"

namespace kube::testing {
namespace {

// Records every event an informer delivers, by "TYPE name rv".
struct Recorder {
  std::mutex mu;
  std::vector<std::string> events;
  void attach(Informer<RawObject>& inf) {
    inf.addHandler({[this](const auto& o) { add("ADDED", *o); },
                    [this](const auto&, const auto& n) { add("MODIFIED", *n); },
                    [this](const auto& o) { add("DELETED", *o); }});
  }
  void add(const char* type, const RawObject& o) {
    std::lock_guard l(mu);
    events.push_back(std::string(type) + " " + o.metadata.name);
  }
  size_t count(const std::string& e) {
    std::lock_guard l(mu);
    return static_cast<size_t>(std::count(events.begin(), events.end(), e));
  }
  size_t size() {
    std::lock_guard l(mu);
    return events.size();
  }
};

class InformerTest : public ::testing::Test {
 protected:
  RestClient client{adminConfig()};
  std::string ns = createNamespace(client, "informer");
};

TEST_F(InformerTest, SyncsThenFollowsChangesWithIndexes) {
  auto pre = widget("pre");
  pre["metadata"]["labels"] = {{"app", "web"}};
  client.create(kWidgets, ns, pre);
  Informer<RawObject> inf(client, kWidgets, {.namespace_ = ns});
  Recorder rec;
  rec.attach(inf);
  std::jthread t([&](std::stop_token st) { inf.run(st); });
  ASSERT_TRUE(eventually([&] { return inf.hasSynced(); }));
  EXPECT_EQ(rec.count("ADDED pre"), 1u);
  ASSERT_NE(inf.store().get(ns, "pre"), nullptr);
  EXPECT_EQ(inf.store().byLabel("app", "web").size(), 1u);

  auto w = client.create(kWidgets, ns, widget("live"));
  w["spec"]["replicas"] = 3;
  client.update(kWidgets, ns, w);
  client.del(kWidgets, ns, "pre");
  ASSERT_TRUE(eventually([&] { return rec.count("DELETED pre") == 1; }));
  ASSERT_TRUE(eventually([&] { return rec.count("MODIFIED live") == 1; }));
  EXPECT_EQ(inf.store().get(ns, "pre"), nullptr);
  EXPECT_EQ(inf.store().get(ns, "live")->toJson()["spec"]["replicas"], 3);
  EXPECT_EQ(inf.store().byNamespace(ns).size(), 1u);
  EXPECT_TRUE(inf.store().byLabel("app", "web").empty());
}

TEST_F(InformerTest, SurvivesApiServerRestartWithoutMissingOrDuplicatingEvents) {
  Informer<RawObject> inf(client, kWidgets, {.namespace_ = ns});
  Recorder rec;
  rec.attach(inf);
  std::jthread t([&](std::stop_token st) { inf.run(st); });
  ASSERT_TRUE(eventually([&] { return inf.hasSynced(); }));
  for (int i = 0; i < 5; ++i) client.create(kWidgets, ns, widget("before" + std::to_string(i)));
  ASSERT_TRUE(eventually([&] { return rec.size() == 5; }));

  ControlPlaneEnvironment::get().restartApiServer();

  RestClient after(adminConfig());
  for (int i = 0; i < 5; ++i) after.create(kWidgets, ns, widget("after" + std::to_string(i)));
  after.del(kWidgets, ns, "before0");
  ASSERT_TRUE(
      eventually([&] { return rec.count("DELETED before0") == 1; }, std::chrono::seconds(60)))
      << inf.lastError();
  ASSERT_TRUE(eventually([&] { return rec.size() == 11; }, std::chrono::seconds(30)));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(rec.count("ADDED before" + std::to_string(i)), 1u) << i;
    EXPECT_EQ(rec.count("ADDED after" + std::to_string(i)), 1u) << i;
  }
  EXPECT_EQ(rec.size(), 11u) << "duplicated events after the restart";
  EXPECT_EQ(inf.store().size(), 9u);
}

}  // namespace
}  // namespace kube::testing
