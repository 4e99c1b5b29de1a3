#include "runtime/store.h"

#include <gtest/gtest.h>

namespace kube {
namespace {

std::shared_ptr<const RawObject> obj(const std::string& ns, const std::string& name,
                                     const std::string& rv,
                                     std::map<std::string, std::string> labels = {},
                                     const std::string& ownerUid = "") {
  nlohmann::json j = {{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}}}};
  if (!labels.empty()) j["metadata"]["labels"] = labels;
  if (!ownerUid.empty())
    j["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                         {"kind", "Owner"},
                                         {"name", "o"},
                                         {"uid", ownerUid},
                                         {"controller", true}}};
  j["metadata"]["managedFields"] = {{{"manager", "kubectl"}}};
  return std::make_shared<const RawObject>(RawObject::fromJson(j));
}

TEST(RawObject, KeepsMetadataTypedAndDropsManagedFields) {
  auto o = obj("ns", "a", "5", {{"app", "web"}}, "uid-1");
  EXPECT_EQ(o->metadata.key(), "ns/a");
  EXPECT_EQ(o->metadata.labels.at("app"), "web");
  ASSERT_NE(o->metadata.controllerRef(), nullptr);
  EXPECT_EQ(o->metadata.controllerRef()->uid, "uid-1");
  EXPECT_EQ(o->json.find("managedFields"), std::string::npos);
  EXPECT_EQ(o->toJson()["metadata"]["name"], "a");
}

TEST(Store, IndexesFollowUpdatesAndDeletes) {
  Store<RawObject> s;
  s.upsert(obj("ns1", "a", "1", {{"app", "web"}}, "owner-1"));
  s.upsert(obj("ns1", "b", "1", {{"app", "db"}}, "owner-1"));
  s.upsert(obj("ns2", "a", "1", {{"app", "web"}}));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.byNamespace("ns1").size(), 2u);
  EXPECT_EQ(s.byOwner("owner-1").size(), 2u);
  EXPECT_EQ(s.byLabel("app", "web").size(), 2u);

  // Relabel: the old label entry must go.
  auto old = s.upsert(obj("ns1", "a", "2", {{"app", "db"}}));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->metadata.resourceVersion, "1");
  EXPECT_EQ(s.byLabel("app", "web").size(), 1u);
  EXPECT_EQ(s.byLabel("app", "db").size(), 2u);
  EXPECT_EQ(s.byOwner("owner-1").size(), 1u);

  s.erase("ns1/b");
  EXPECT_EQ(s.get("ns1", "b"), nullptr);
  EXPECT_EQ(s.byLabel("app", "db").size(), 1u);
  EXPECT_TRUE(s.byOwner("owner-1").empty());
}

TEST(Store, SelectByLabelSelectorInNamespace) {
  Store<RawObject> s;
  s.upsert(obj("ns1", "a", "1", {{"tier", "web"}, {"env", "prod"}}));
  s.upsert(obj("ns1", "b", "1", {{"tier", "web"}, {"env", "dev"}}));
  s.upsert(obj("ns2", "c", "1", {{"tier", "web"}, {"env", "prod"}}));
  auto sel = LabelSelector::parse("tier=web,env!=dev");
  EXPECT_EQ(s.select(sel).size(), 2u);
  auto inNs1 = s.select(sel, "ns1");
  ASSERT_EQ(inNs1.size(), 1u);
  EXPECT_EQ(inNs1[0]->metadata.name, "a");
}

TEST(Store, ReplaceReportsOnlyRealChanges) {
  Store<RawObject> s;
  s.upsert(obj("ns", "same", "1"));
  s.upsert(obj("ns", "changed", "1"));
  s.upsert(obj("ns", "gone", "1"));
  std::vector<std::string> changes;
  s.replace({obj("ns", "same", "1"), obj("ns", "changed", "2"), obj("ns", "new", "1")},
            [&](const auto& o, const auto& n) {
              if (o && n)
                changes.push_back("update " + n->metadata.name);
              else if (n)
                changes.push_back("add " + n->metadata.name);
              else
                changes.push_back("delete " + o->metadata.name);
            });
  std::sort(changes.begin(), changes.end());
  EXPECT_EQ(changes, (std::vector<std::string>{"add new", "delete gone", "update changed"}));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.get("ns/gone"), nullptr);
  EXPECT_EQ(s.get("ns/changed")->metadata.resourceVersion, "2");
}

TEST(Store, ReadersKeepTheirSnapshot) {
  Store<RawObject> s;
  s.upsert(obj("ns", "a", "1"));
  auto held = s.get("ns/a");
  s.upsert(obj("ns", "a", "2"));
  s.erase("ns/a");
  EXPECT_EQ(held->metadata.resourceVersion, "1");
}

}  // namespace
}  // namespace kube
