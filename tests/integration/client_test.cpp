// The REST client against a real kube-apiserver and etcd.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/helpers.h"

namespace kube::testing {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  RestClient client{adminConfig()};
  std::string ns = createNamespace(client, "client");
};

TEST_F(ClientTest, CreateGetUpdateDeleteCustomObject) {
  auto created = client.create(kWidgets, ns, widget("w1", 2));
  EXPECT_EQ(created["metadata"]["namespace"], ns);
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());

  auto got = client.get(kWidgets, ns, "w1");
  EXPECT_EQ(got["spec"]["replicas"], 2);

  got["spec"]["color"] = "red";
  auto updated = client.update(kWidgets, ns, got);
  EXPECT_EQ(updated["spec"]["color"], "red");
  EXPECT_NE(updated["metadata"]["resourceVersion"], got["metadata"]["resourceVersion"]);

  auto gone = client.del(kWidgets, ns, "w1");
  try {
    client.get(kWidgets, ns, "w1");
    FAIL() << "deleted object still readable";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isNotFound()) << e.what();
    EXPECT_EQ(e.code(), 404);
  }
}

TEST_F(ClientTest, TypedErrorsCarryTheServersStatus) {
  client.create(kWidgets, ns, widget("dup"));
  try {
    client.create(kWidgets, ns, widget("dup"));
    FAIL() << "duplicate create accepted";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isAlreadyExists());
    EXPECT_FALSE(e.isConflict());
    EXPECT_NE(e.status().message.find("already exists"), std::string::npos) << e.what();
  }
  auto bad = widget("bad");
  bad["spec"]["size"] = "enormous";
  try {
    client.create(kWidgets, ns, bad);
    FAIL() << "invalid enum accepted";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isInvalid()) << e.what();
    ASSERT_FALSE(e.status().causes.empty());
    EXPECT_EQ(e.status().causes[0].field, "spec.size");
  }
}

TEST_F(ClientTest, StaleUpdateIsAConflict) {
  auto v1 = client.create(kWidgets, ns, widget("c1"));
  auto v2 = v1;
  v2["spec"]["replicas"] = 5;
  client.update(kWidgets, ns, v2);
  v1["spec"]["replicas"] = 7;  // still carries the old resourceVersion
  try {
    client.update(kWidgets, ns, v1);
    FAIL() << "stale update accepted";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isConflict()) << e.what();
    EXPECT_EQ(e.code(), 409);
  }
  EXPECT_EQ(client.get(kWidgets, ns, "c1")["spec"]["replicas"], 5);
}

TEST_F(ClientTest, DeletePreconditionOnUid) {
  client.create(kWidgets, ns, widget("p1"));
  DeleteOptions wrongUid;
  wrongUid.preconditionUid = "00000000-0000-0000-0000-000000000000";
  try {
    client.del(kWidgets, ns, "p1", wrongUid);
    FAIL() << "delete with a wrong uid precondition accepted";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isConflict()) << e.what();
  }
  auto obj = client.get(kWidgets, ns, "p1");
  DeleteOptions rightUid;
  rightUid.preconditionUid = obj["metadata"]["uid"].get<std::string>();
  rightUid.propagationPolicy = "Foreground";
  client.del(kWidgets, ns, "p1", rightUid);
  EXPECT_TRUE(eventually([&] {
    try {
      client.get(kWidgets, ns, "p1");
      return false;
    } catch (const ApiError& e) {
      return e.isNotFound();
    }
  }));
}

TEST_F(ClientTest, ListPagesWithLimitAndContinue) {
  for (int i = 0; i < 7; ++i) client.create(kWidgets, ns, widget("l" + std::to_string(i)));
  ListOptions o;
  o.limit = 3;
  auto first = client.listPage(kWidgets, ns, o);
  EXPECT_EQ(first.items.size(), 3u);
  EXPECT_FALSE(first.continueToken.empty());
  auto all = client.list(kWidgets, ns, o);
  EXPECT_EQ(all.items.size(), 7u);
  EXPECT_FALSE(all.resourceVersion.empty());
}

TEST_F(ClientTest, LabelSelectorFiltersList) {
  auto a = widget("sa");
  a["metadata"]["labels"] = {{"tier", "web"}};
  auto b = widget("sb");
  b["metadata"]["labels"] = {{"tier", "db"}};
  client.create(kWidgets, ns, a);
  client.create(kWidgets, ns, b);
  ListOptions o;
  o.labelSelector = "tier in (web)";
  auto l = client.list(kWidgets, ns, o);
  ASSERT_EQ(l.items.size(), 1u);
  EXPECT_EQ(l.items[0]["metadata"]["name"], "sa");
}

TEST_F(ClientTest, WatchDeliversEventsInOrder) {
  auto start = client.list(kWidgets, ns);
  std::vector<std::string> seen;
  std::stop_source stop;
  std::thread watcher([&] {
    WatchOptions o;
    o.resourceVersion = start.resourceVersion;
    o.timeoutSeconds = 30;
    client.watch(
        kWidgets, ns, o,
        [&](WatchEvent&& e) {
          if (e.type == "BOOKMARK") return true;
          seen.push_back(e.type + ":" + e.object["metadata"]["name"].get<std::string>() + ":" +
                         std::to_string(e.object["spec"]["replicas"].get<int>()));
          return seen.size() < 4;
        },
        stop.get_token());
  });
  auto w = client.create(kWidgets, ns, widget("o1", 1));
  w["spec"]["replicas"] = 2;
  client.update(kWidgets, ns, w);
  client.create(kWidgets, ns, widget("o2", 3));
  client.del(kWidgets, ns, "o1");
  watcher.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:o1:1", "MODIFIED:o1:2", "ADDED:o2:3",
                                            "DELETED:o1:2"}));
}

TEST_F(ClientTest, WatchStopsWhenAsked) {
  std::stop_source stop;
  std::atomic<bool> returned{false};
  std::thread watcher([&] {
    WatchOptions o;
    o.timeoutSeconds = 300;
    client.watch(
        kWidgets, ns, o, [](WatchEvent&&) { return true; }, stop.get_token());
    returned = true;
  });
  stop.request_stop();
  watcher.join();  // would hang for 300 s if the stop were ignored
  EXPECT_TRUE(returned);
}

TEST_F(ClientTest, MergeAndJsonPatch) {
  client.create(kWidgets, ns, widget("m1"));
  auto p = client.patch(kWidgets, ns, "m1", PatchType::Merge,
                        {{"metadata", {{"labels", {{"a", "1"}}}}}, {"spec", {{"color", "green"}}}});
  EXPECT_EQ(p["metadata"]["labels"]["a"], "1");
  EXPECT_EQ(p["spec"]["color"], "green");
  auto j = client.patch(
      kWidgets, ns, "m1", PatchType::Json,
      nlohmann::json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 9}}}));
  EXPECT_EQ(j["spec"]["replicas"], 9);
}

TEST_F(ClientTest, ServerSideApplyTracksOwnership) {
  nlohmann::json mine = {{"apiVersion", "test.kubec2.io/v1"},
                         {"kind", "Widget"},
                         {"metadata", {{"name", "ssa"}}},
                         {"spec", {{"replicas", 1}, {"color", "blue"}}}};
  client.apply(kWidgets, ns, mine, "owner-a", false);
  // A second manager changing a field owned by the first: conflict without force.
  nlohmann::json theirs = {{"apiVersion", "test.kubec2.io/v1"},
                           {"kind", "Widget"},
                           {"metadata", {{"name", "ssa"}}},
                           {"spec", {{"color", "red"}}}};
  try {
    client.apply(kWidgets, ns, theirs, "owner-b", false);
    FAIL() << "apply over another manager's field accepted without force";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 409) << e.what();
    ASSERT_FALSE(e.status().causes.empty());
    EXPECT_NE(e.status().causes[0].message.find("owner-a"), std::string::npos) << e.what();
  }
  // With force the field moves to owner-b; owner-a keeps replicas.
  auto forced = client.apply(kWidgets, ns, theirs, "owner-b", true);
  EXPECT_EQ(forced["spec"]["color"], "red");
  EXPECT_EQ(forced["spec"]["replicas"], 1);
  std::map<std::string, std::string> managers;
  for (const auto& mf : forced["metadata"]["managedFields"]) {
    managers[mf["manager"].get<std::string>()] = mf["fieldsV1"].dump();
  }
  ASSERT_TRUE(managers.count("owner-a"));
  ASSERT_TRUE(managers.count("owner-b"));
  EXPECT_NE(managers["owner-b"].find("f:color"), std::string::npos);
  EXPECT_EQ(managers["owner-a"].find("f:color"), std::string::npos);
  EXPECT_NE(managers["owner-a"].find("f:replicas"), std::string::npos);
}

TEST_F(ClientTest, StatusAndScaleSubresources) {
  client.create(kWidgets, ns, widget("sub", 2));
  auto obj = client.get(kWidgets, ns, "sub");
  obj["status"] = {{"replicas", 2}, {"phase", "Ready"}};
  obj["spec"]["replicas"] = 99;  // ignored by the status subresource
  auto st = client.updateStatus(kWidgets, ns, obj);
  EXPECT_EQ(st["status"]["phase"], "Ready");
  EXPECT_EQ(st["spec"]["replicas"], 2);

  auto scale = client.get(kWidgets, ns, "sub", "scale");
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["spec"]["replicas"], 2);
  EXPECT_EQ(scale["status"]["replicas"], 2);
  PatchOptions po;
  po.subresource = "scale";
  client.patch(kWidgets, ns, "sub", PatchType::Merge, {{"spec", {{"replicas", 4}}}}, po);
  EXPECT_EQ(client.get(kWidgets, ns, "sub")["spec"]["replicas"], 4);
}

TEST_F(ClientTest, DiscoveryTellsServedResources) {
  EXPECT_TRUE(client.isServed("test.kubec2.io", "v1", "widgets"));
  EXPECT_TRUE(client.isServed("coordination.k8s.io", "v1", "leases"));
  EXPECT_FALSE(client.isServed("test.kubec2.io", "v1", "gadgets"));
  EXPECT_FALSE(client.isServed("nonexistent.example.com", "v1", "things"));
}

TEST(ClientFailures, UnreachableServerIsATransportErrorNotAHang) {
  RestConfig c = adminConfig();
  c.server = "https://127.0.0.1:1";  // nothing listens on port 1
  c.maxRetries = 1;
  RestClient client(c);
  try {
    client.get(kNamespaces, "", "default");
    FAIL() << "request to a closed port succeeded";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isTransport());
    EXPECT_EQ(e.reason(), "Unreachable") << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

TEST(ClientFailures, WrongCaIsATlsErrorNotAnInsecureFallback) {
  RestConfig c = adminConfig();
  // A CA that did not sign the server's certificate: the client certificate
  // itself is a valid PEM certificate, just not the right CA.
  c.caPem = c.clientCertPem;
  c.maxRetries = 0;
  RestClient client(c);
  try {
    client.get(kNamespaces, "", "default");
    FAIL() << "TLS verification did not reject an untrusted server";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.reason(), "TLSError") << e.what();
  }
}

TEST(ClientFailures, BadTokenIsUnauthorized) {
  RestConfig c = adminConfig();
  c.clientCertPem.clear();
  c.clientKeyPem.clear();
  c.token = "not-a-valid-token";
  RestClient client(c);
  try {
    client.get(kNamespaces, "", "default");
    FAIL() << "bad token accepted";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isUnauthorized()) << e.what();
  }
}

}  // namespace
}  // namespace kube::testing
