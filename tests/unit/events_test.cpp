#include "runtime/events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/errors.h"

namespace kube {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

ApiError apiError(int code, const std::string& reason) {
  Status s;
  s.code = code;
  s.reason = reason;
  s.message = "injected";
  return ApiError(s);
}

struct Call {
  std::string verb;  // create, patch
  std::string ns;
  std::string name;
  json body;
};

// An in-memory events API with a hook to fail or stall requests.
struct FakeEventServer {
  std::mutex mu;
  std::vector<Call> calls;                // every request, failed ones included
  std::map<std::string, json> events;     // "ns/name" -> Event
  std::function<void(const Call&)> hook;  // throw to fail; called without the lock

  std::vector<Call> callsOf(const std::string& verb) {
    std::lock_guard<std::mutex> l(mu);
    std::vector<Call> out;
    for (const auto& c : calls)
      if (c.verb == verb) out.push_back(c);
    return out;
  }
};

class FakeEventSink final : public EventSink {
 public:
  explicit FakeEventSink(FakeEventServer& s) : s_(s) {}

  json create(const std::string& ns, const json& event) override {
    Call c{"create", ns, event.at("metadata").at("name"), event};
    record(c);
    std::lock_guard<std::mutex> l(s_.mu);
    auto [it, inserted] = s_.events.emplace(ns + "/" + c.name, event);
    if (!inserted) throw apiError(409, "AlreadyExists");
    return it->second;
  }
  json patch(const std::string& ns, const std::string& name, const json& mergePatch) override {
    Call c{"patch", ns, name, mergePatch};
    record(c);
    std::lock_guard<std::mutex> l(s_.mu);
    auto it = s_.events.find(ns + "/" + name);
    if (it == s_.events.end()) throw apiError(404, "NotFound");
    it->second.merge_patch(mergePatch);
    return it->second;
  }

 private:
  void record(const Call& c) {
    {
      std::lock_guard<std::mutex> l(s_.mu);
      s_.calls.push_back(c);
    }
    if (s_.hook) s_.hook(c);
  }
  FakeEventServer& s_;
};

EventRecorderOptions options() {
  EventRecorderOptions o;
  o.component = "kubec2";
  o.host = "node-1";
  o.retryDelay = 1ms;
  return o;
}

ObjectRef instance(const std::string& name = "web-1") {
  return ObjectRef{"compute.kubec2.io/v1alpha1", "Instance", "prod", name, "uid-" + name, "42"};
}

TEST(EventRecorder, RepeatsBecomePatchesOfOneEvent) {
  FakeEventServer server;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  for (int i = 0; i < 3; ++i) rec.event(instance(), EventType::Normal, "Started", "VM is running");
  rec.flush();

  const auto creates = server.callsOf("create");
  const auto patches = server.callsOf("patch");
  ASSERT_EQ(creates.size(), 1u);
  ASSERT_EQ(patches.size(), 2u);
  const json& ev = creates[0].body;
  EXPECT_EQ(creates[0].ns, "prod");
  EXPECT_EQ(ev["apiVersion"], "v1");
  EXPECT_EQ(ev["kind"], "Event");
  EXPECT_EQ(ev["metadata"]["namespace"], "prod");
  EXPECT_EQ(creates[0].name.rfind("web-1.", 0), 0u) << creates[0].name;
  EXPECT_EQ(creates[0].name.find_first_not_of("0123456789abcdef", 6), std::string::npos);
  EXPECT_EQ(ev["involvedObject"], json({{"apiVersion", "compute.kubec2.io/v1alpha1"},
                                        {"kind", "Instance"},
                                        {"namespace", "prod"},
                                        {"name", "web-1"},
                                        {"uid", "uid-web-1"},
                                        {"resourceVersion", "42"}}));
  EXPECT_EQ(ev["type"], "Normal");
  EXPECT_EQ(ev["reason"], "Started");
  EXPECT_EQ(ev["message"], "VM is running");
  EXPECT_EQ(ev["count"], 1);
  EXPECT_EQ(ev["source"], json({{"component", "kubec2"}, {"host", "node-1"}}));
  EXPECT_EQ(ev["reportingComponent"], "kubec2");
  EXPECT_EQ(ev["reportingInstance"], "node-1");
  EXPECT_TRUE(ev["firstTimestamp"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(ev["firstTimestamp"], ev["lastTimestamp"]);

  for (std::size_t i = 0; i < patches.size(); ++i) {
    EXPECT_EQ(patches[i].ns, "prod");
    EXPECT_EQ(patches[i].name, creates[0].name);
    EXPECT_EQ(patches[i].body["count"], static_cast<int>(i) + 2);
    EXPECT_TRUE(patches[i].body.contains("lastTimestamp"));
    EXPECT_EQ(patches[i].body.size(), 2u);  // count and lastTimestamp only
  }
  std::lock_guard<std::mutex> l(server.mu);
  ASSERT_EQ(server.events.size(), 1u);
  EXPECT_EQ(server.events.begin()->second["count"], 3);
  EXPECT_EQ(rec.dropped(), 0u);
}

TEST(EventRecorder, DifferentReasonsTypesMessagesOrObjectsAreSeparateEvents) {
  FakeEventServer server;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.event(instance(), EventType::Normal, "Stopped", "m");
  rec.event(instance(), EventType::Warning, "Started", "m");
  rec.event(instance(), EventType::Normal, "Started", "other message");
  rec.event(instance("web-2"), EventType::Normal, "Started", "m");
  rec.event(instance(), EventType::Normal, "Stopped", "m");  // repeat of the second
  rec.flush();
  const auto creates = server.callsOf("create");
  ASSERT_EQ(creates.size(), 5u);
  const auto patches = server.callsOf("patch");
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(patches[0].name, creates[1].name);
  EXPECT_EQ(patches[0].body["count"], 2);
  std::set<std::string> names;
  for (const auto& c : creates) names.insert(c.name);
  EXPECT_EQ(names.size(), 5u) << "event names must be unique";
  EXPECT_EQ(creates[2].body["type"], "Warning");
}

TEST(EventRecorder, ResourceVersionDoesNotSplitRepeats) {
  FakeEventServer server;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  auto a = instance();
  auto b = instance();
  b.resourceVersion = "43";
  rec.event(a, EventType::Normal, "Synced", "ok");
  rec.event(b, EventType::Normal, "Synced", "ok");
  rec.flush();
  EXPECT_EQ(server.callsOf("create").size(), 1u);
  EXPECT_EQ(server.callsOf("patch").size(), 1u);
}

TEST(EventRecorder, TruncatesMessagesTo1024Bytes) {
  FakeEventServer server;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(instance(), EventType::Warning, "Failed", std::string(5000, 'x'));
  // 1023 ASCII bytes then a 2-byte character: the character must go whole.
  rec.event(instance("web-2"), EventType::Warning, "Failed", std::string(1023, 'y') + "\xc3\xa9z");
  rec.flush();
  const auto creates = server.callsOf("create");
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_EQ(creates[0].body["message"].get<std::string>(), std::string(1024, 'x'));
  EXPECT_EQ(creates[1].body["message"].get<std::string>(), std::string(1023, 'y'));
  EXPECT_NO_THROW((void)creates[1].body.dump());
}

TEST(TruncateUtf8, CutsOnCharacterBoundaries) {
  EXPECT_EQ(truncateUtf8("short", 10), "short");
  EXPECT_EQ(truncateUtf8("abcdef", 3), "abc");
  const std::string euro = "\xe2\x82\xac";  // 3 bytes
  EXPECT_EQ(truncateUtf8("a" + euro, 4), "a" + euro);
  EXPECT_EQ(truncateUtf8("a" + euro, 3), "a");
  EXPECT_EQ(truncateUtf8("a" + euro, 2), "a");
  EXPECT_EQ(truncateUtf8("a" + euro + "b", 4), "a" + euro);
  EXPECT_EQ(truncateUtf8(euro, 0), "");
}

TEST(EventRecorder, ClusterScopedObjectsRecordInDefault) {
  FakeEventServer server;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(ObjectRef{"v1", "Node", "", "n1", "u1", ""}, EventType::Normal, "Ready", "ok");
  rec.flush();
  const auto creates = server.callsOf("create");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].ns, "default");
  EXPECT_FALSE(creates[0].body["involvedObject"].contains("namespace"));
}

TEST(EventRecorder, RetriesServerErrors) {
  FakeEventServer server;
  int failures = 2;
  server.hook = [&](const Call&) {
    if (failures-- > 0) throw apiError(503, "ServiceUnavailable");
  };
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.flush();
  EXPECT_EQ(server.callsOf("create").size(), 3u);
  EXPECT_EQ(server.events.size(), 1u);
  EXPECT_EQ(rec.dropped(), 0u);
}

TEST(EventRecorder, DropsAfterMaxAttempts) {
  FakeEventServer server;
  server.hook = [](const Call&) { throw apiError(500, "InternalError"); };
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.flush();
  EXPECT_EQ(server.callsOf("create").size(), 3u);
  EXPECT_EQ(rec.dropped(), 1u);

  // The failed create left nothing to patch: the next one creates again.
  server.hook = nullptr;
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.flush();
  EXPECT_EQ(server.callsOf("create").size(), 4u);
  EXPECT_EQ(server.callsOf("patch").size(), 0u);
}

TEST(EventRecorder, DoesNotRetryClientErrors) {
  FakeEventServer server;
  server.hook = [](const Call&) { throw apiError(422, "Invalid"); };
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.flush();
  EXPECT_EQ(server.callsOf("create").size(), 1u);
  EXPECT_EQ(rec.dropped(), 1u);
}

TEST(EventRecorder, RecreatesAnEventThatExpired) {
  FakeEventServer server;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.flush();
  {
    std::lock_guard<std::mutex> l(server.mu);
    server.events.clear();  // the server's TTL removed it
  }
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.event(instance(), EventType::Normal, "Started", "m");
  rec.flush();
  const auto creates = server.callsOf("create");
  const auto patches = server.callsOf("patch");
  ASSERT_EQ(creates.size(), 2u);
  ASSERT_EQ(patches.size(), 2u);  // the 404 one, then count 2 on the new event
  EXPECT_EQ(creates[1].body["count"], 1);
  EXPECT_NE(creates[1].name, creates[0].name);
  EXPECT_EQ(patches[1].name, creates[1].name);
  EXPECT_EQ(patches[1].body["count"], 2);
  EXPECT_EQ(rec.dropped(), 0u);
}

TEST(EventRecorder, NeverBlocksTheCallerAndDropsWhenFull) {
  FakeEventServer server;
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  bool first = true;
  server.hook = [&](const Call&) {
    if (std::exchange(first, false)) {
      entered.set_value();
      released.wait();
    }
  };
  auto o = options();
  o.queueCapacity = 2;
  EventRecorder rec(std::make_unique<FakeEventSink>(server), o);
  rec.event(instance("a"), EventType::Normal, "R", "m");
  entered.get_future().wait();  // the writer is stuck on the first event
  const auto start = std::chrono::steady_clock::now();
  for (const char* name : {"b", "c", "d", "e", "f"}) {
    rec.event(instance(name), EventType::Normal, "R", "m");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(rec.dropped(), 3u);
  release.set_value();
  rec.flush();
  EXPECT_EQ(server.callsOf("create").size(), 3u);  // a, b, c
}

TEST(EventRecorder, DestructorWritesWhatIsQueued) {
  FakeEventServer server;
  {
    EventRecorder rec(std::make_unique<FakeEventSink>(server), options());
    for (const char* name : {"a", "b", "c"}) rec.event(instance(name), EventType::Normal, "R", "m");
  }
  EXPECT_EQ(server.callsOf("create").size(), 3u);
}

TEST(EventRecorder, RequiresAComponent) {
  FakeEventServer server;
  EXPECT_THROW(EventRecorder(std::make_unique<FakeEventSink>(server), EventRecorderOptions{}),
               std::invalid_argument);
}

TEST(ObjectRef, FromObject) {
  const json obj = {
      {"apiVersion", "kubevirt.io/v1"},
      {"kind", "VirtualMachine"},
      {"metadata", {{"name", "vm"}, {"namespace", "ns"}, {"uid", "u"}, {"resourceVersion", "7"}}},
      {"spec", json::object()}};
  const auto r = ObjectRef::fromObject(obj);
  EXPECT_EQ(r.apiVersion, "kubevirt.io/v1");
  EXPECT_EQ(r.kind, "VirtualMachine");
  EXPECT_EQ(r.namespace_, "ns");
  EXPECT_EQ(r.name, "vm");
  EXPECT_EQ(r.uid, "u");
  EXPECT_EQ(r.resourceVersion, "7");
  EXPECT_EQ(r.toJson()["resourceVersion"], "7");
}

}  // namespace
}  // namespace kube
