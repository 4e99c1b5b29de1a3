// The ScalingGroup plan as a whole: how capacity, members, zones and the
// processes combine into launches, terminations, status and Events. The
// rules of each part have their own tests (scaling_group_*_test.cpp).
#include "reconcilers/scalinggroup/plan.h"

#include <gtest/gtest.h>

#include "api/well_known.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);

v1::ScalingGroup groupOf(json spec, json status = nullptr) {
  if (!spec.contains("launchTemplateRef")) spec["launchTemplateRef"] = {{"name", "web"}};
  json g = {{"apiVersion", api::kApiVersion},
            {"kind", "ScalingGroup"},
            {"metadata",
             {{"name", "web"},
              {"namespace", "ns"},
              {"uid", "uid-group"},
              {"generation", 1},
              {"finalizers", {api::kScalingGroupFinalizer}}}},
            {"spec", spec}};
  if (!status.is_null()) g["status"] = status;
  return v1::ScalingGroup::fromJson(g);
}

v1::LaunchTemplate templ(int versions = 1) {
  json vs = json::array();
  for (int i = 0; i < versions; ++i)
    vs.push_back({{"spec",
                   {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
                    {"instanceType", "t3.micro"}}}});
  return v1::LaunchTemplate::fromJson({{"apiVersion", api::kApiVersion},
                                       {"kind", "LaunchTemplate"},
                                       {"metadata", {{"name", "web"}, {"namespace", "ns"}}},
                                       {"spec", {{"versions", vs}}}});
}

// An instance of the group: running and Ready since an hour (in service),
// unless `state` says otherwise.
v1::Instance member(const std::string& name, const std::string& zone,
                    const std::string& state = "running", int version = 1) {
  const std::string hourAgo = kube::formatRfc3339(kNow - 1h);
  json i = {{"apiVersion", api::kApiVersion},
            {"kind", "Instance"},
            {"metadata",
             {{"name", name},
              {"namespace", "ns"},
              {"uid", "uid-" + name},
              {"creationTimestamp", hourAgo},
              {"labels", {{api::kScalingGroupLabel, "web"}}},
              {"ownerReferences",
               {{{"apiVersion", api::kApiVersion},
                 {"kind", "ScalingGroup"},
                 {"name", "web"},
                 {"uid", "uid-group"},
                 {"controller", true}}}}}},
            {"spec",
             {{"launchTemplateRef", {{"name", "web"}, {"version", std::to_string(version)}}},
              {"availabilityZone", zone}}},
            {"status",
             {{"state", state},
              {"zone", zone},
              {"launchTemplateVersion", version},
              {"conditions",
               {{{"type", "Ready"},
                 {"status", state == "running" ? "True" : "False"},
                 {"reason", state == "running" ? "Running" : "Pending"},
                 {"lastTransitionTime", hourAgo}}}}}}};
  return v1::Instance::fromJson(i);
}

std::vector<NodeView> threeZones() {
  return {{"us-east-1a", true}, {"us-east-1b", true}, {"us-east-1c", true}};
}

struct World {
  v1::ScalingGroup group;
  std::vector<v1::Instance> instances{};
  std::optional<v1::LaunchTemplate> launchTemplate = templ();
  std::vector<NodeView> nodes = threeZones();
  bool satisfied = true;
  std::optional<Time> lastStatusWrite{};
  std::chrono::seconds startTimeout = kDefaultInstanceStartTimeout;

  ScalingGroupDecision plan() const {
    ScalingGroupObservation o;
    o.group = &group;
    for (const auto& i : instances) o.instances.push_back(&i);
    o.launchTemplate = launchTemplate ? &*launchTemplate : nullptr;
    o.nodes = nodes;
    o.expectationsSatisfied = satisfied;
    o.now = kNow;
    o.lastStatusWrite = lastStatusWrite;
    o.instanceStartTimeout = startTimeout;
    return planScalingGroup(o);
  }
};

std::vector<std::string> launchZones(const Plan& p) {
  std::vector<std::string> out;
  for (const auto* c : p.all<CreateObject>())
    out.push_back(c->object["spec"].value("availabilityZone", ""));
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> terminated(const Plan& p) {
  std::vector<std::string> out;
  for (const auto* d : p.all<DeleteObject>()) out.push_back(d->name);
  return out;
}
json statusOf(const Plan& p) {
  const auto* s = p.first<PatchStatus>();
  return s ? s->status : json();
}
std::string conditionOf(const json& status, const std::string& type) {
  for (const auto& c : status.value("conditions", json::array()))
    if (c["type"] == type) return c.value("status", "") + "/" + c.value("reason", "");
  return "";
}
std::vector<std::string> eventReasons(const Plan& p) {
  std::vector<std::string> out;
  for (const auto* e : p.all<RecordEvent>()) out.push_back((e->warning ? "!" : "") + e->reason);
  return out;
}

TEST(ScalingGroupPlan, LaunchesTheCapacityAcrossZonesAsTheGroupsInstances) {
  World w{groupOf({{"minSize", 3}, {"maxSize", 6}})};
  const auto d = w.plan();
  EXPECT_EQ(launchZones(d.plan),
            (std::vector<std::string>{"us-east-1a", "us-east-1b", "us-east-1c"}));
  EXPECT_EQ(d.creations, 3);
  const json inst = d.plan.first<CreateObject>()->object;
  EXPECT_EQ(inst["metadata"]["generateName"], "web-");
  EXPECT_EQ(inst["metadata"]["labels"][api::kScalingGroupLabel], "web");
  EXPECT_EQ(inst["metadata"]["ownerReferences"][0]["uid"], "uid-group");
  EXPECT_EQ(inst["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(inst["spec"]["launchTemplateRef"]["version"], "1") << "a number, pinned at launch";
  const json s = statusOf(d.plan);
  EXPECT_EQ(s["desiredCapacity"], 3);
  EXPECT_EQ(s["selector"],
            "compute.kubec2.io/scaling-group=web,compute.kubec2.io/warm-pool notin (true)");
  EXPECT_EQ(s["launchTemplateVersion"], 1);
  // The new group's capacity, then the launch (status: newest first).
  ASSERT_EQ(s["activities"].size(), 2u);
  EXPECT_EQ(s["activities"][0]["result"], "InProgress");
  EXPECT_NE(s["activities"][0]["message"].get<std::string>().find("launching 3"),
            std::string::npos);
  EXPECT_NE(s["activities"][1]["cause"].get<std::string>().find("3"), std::string::npos)
      << s["activities"][1];
  EXPECT_EQ(eventReasons(d.plan), (std::vector<std::string>{"CapacityChange", "Launch"}));
}

TEST(ScalingGroupPlan, NothingIsCreatedOrDeletedWhileEarlierWritesAreNotSeen) {
  World w{groupOf({{"minSize", 3}, {"maxSize", 6}})};
  w.satisfied = false;
  const auto d = w.plan();
  EXPECT_TRUE(d.plan.all<CreateObject>().empty());
  EXPECT_EQ(d.creations, 0);
  EXPECT_TRUE(d.plan.requeueAfter);
}

TEST(ScalingGroupPlan, ScaleInTerminatesTheSurplusGuardedByUid) {
  World w{groupOf({{"minSize", 0}, {"maxSize", 6}, {"desiredCapacity", 2}},
                  {{"desiredCapacity", 4},
                   {"requested", {{"minSize", 0}, {"maxSize", 6}, {"desiredCapacity", 4}}}})};
  w.instances = {member("web-a", "us-east-1a"), member("web-b", "us-east-1a"),
                 member("web-c", "us-east-1b"), member("web-d", "us-east-1c")};
  const auto d = w.plan();
  const auto gone = terminated(d.plan);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_TRUE(gone[0] == "web-a" || gone[0] == "web-b") << "the fullest zone first";
  EXPECT_EQ(d.deletionUids.size(), 2u);
  for (const auto* del : d.plan.all<DeleteObject>()) EXPECT_EQ(del->uid, "uid-" + del->name);
  EXPECT_EQ(statusOf(d.plan)["desiredCapacity"], 2);
}

TEST(ScalingGroupPlan, UnhealthyInstancesAreReplacedAFewAtATimeTerminatingFirst) {
  World w{
      groupOf({{"minSize", 10}, {"maxSize", 10}, {"healthCheck", {{"gracePeriodSeconds", 60}}}})};
  for (int i = 0; i < 7; ++i)
    w.instances.push_back(member("web-ok" + std::to_string(i), "us-east-1a"));
  for (int i = 0; i < 3; ++i)
    w.instances.push_back(member("web-bad" + std::to_string(i), "us-east-1b", "stopped"));
  const auto d = w.plan();
  ASSERT_EQ(terminated(d.plan).size(), 1u) << "max(1, 10 % of 10) at a time";
  EXPECT_EQ(terminated(d.plan)[0].rfind("web-bad", 0), 0u);
  EXPECT_EQ(d.creations, 1) << "and its replacement";
  std::size_t del = 0, create = 0;
  for (std::size_t i = 0; i < d.plan.actions.size(); ++i) {
    if (std::holds_alternative<DeleteObject>(d.plan.actions[i])) del = i;
    if (std::holds_alternative<CreateObject>(d.plan.actions[i])) create = i;
  }
  EXPECT_LT(del, create) << "terminating first, as EC2";
  bool said = false;
  for (const auto& a : d.activities)
    said = said || (a.kind == "ReplaceUnhealthy" &&
                    a.cause.find("replacing unhealthy instance web-bad") != std::string::npos);
  EXPECT_TRUE(said);
}

TEST(ScalingGroupPlan, AMissingLaunchTemplateLaunchesNothingAndSaysSoOnce) {
  World w{groupOf({{"minSize", 2}, {"maxSize", 2}})};
  w.instances = {member("web-a", "us-east-1a")};
  w.launchTemplate.reset();
  const auto d = w.plan();
  EXPECT_TRUE(d.plan.all<CreateObject>().empty());
  EXPECT_TRUE(d.plan.all<DeleteObject>().empty()) << "the group keeps what it has";
  const json s = statusOf(d.plan);
  EXPECT_EQ(conditionOf(s, "Ready"), "False/LaunchTemplateNotFound");
  EXPECT_EQ(eventReasons(d.plan),
            (std::vector<std::string>{"CapacityChange", "!LaunchTemplateNotFound"}));
  // Again with that status: no second Warning, no status write.
  w.group = groupOf({{"minSize", 2}, {"maxSize", 2}}, s);
  const auto again = w.plan();
  EXPECT_TRUE(eventReasons(again.plan).empty());
  EXPECT_TRUE(statusOf(again.plan).is_null());
}

TEST(ScalingGroupPlan, SuspendedLaunchAndTerminateStopScaling) {
  World w{groupOf({{"minSize", 2}, {"maxSize", 2}, {"suspendedProcesses", {"Launch"}}})};
  EXPECT_TRUE(w.plan().plan.all<CreateObject>().empty());
  World in{groupOf({{"minSize", 0},
                    {"maxSize", 2},
                    {"desiredCapacity", 0},
                    {"suspendedProcesses", {"Terminate"}}})};
  in.instances = {member("web-a", "us-east-1a")};
  EXPECT_TRUE(in.plan().plan.all<DeleteObject>().empty());
}

TEST(ScalingGroupPlan, AZoneWithoutSchedulableNodesIsSkippedWithACondition) {
  World w{groupOf({{"minSize", 3}, {"maxSize", 3}})};
  w.nodes = {{"us-east-1a", true}, {"us-east-1b", false}, {"us-east-1c", true}};
  const auto d = w.plan();
  const auto zones = launchZones(d.plan);
  EXPECT_EQ(zones.size(), 3u);
  for (const auto& z : zones) EXPECT_NE(z, "us-east-1b");
  EXPECT_EQ(conditionOf(statusOf(d.plan), "ZonesAvailable"), "False/NoSchedulableNode");
}

TEST(ScalingGroupPlan, ActivitiesEndWhenTheGroupHasSettled) {
  World w{groupOf({{"minSize", 2}, {"maxSize", 2}})};
  const json launching = statusOf(w.plan().plan);
  w.group = groupOf({{"minSize", 2}, {"maxSize", 2}}, launching);
  w.instances = {member("web-a", "us-east-1a"), member("web-b", "us-east-1b")};
  const auto d = w.plan();
  EXPECT_TRUE(d.plan.all<CreateObject>().empty());
  const json s = statusOf(d.plan);
  ASSERT_EQ(s["activities"].size(), 2u);
  for (const auto& a : s["activities"]) {
    EXPECT_EQ(a["result"], "Successful");
    EXPECT_TRUE(a.contains("endTime"));
  }
  EXPECT_EQ(conditionOf(s, "Ready"), "True/InService");
  EXPECT_EQ(s["inServiceCount"], 2);
}

TEST(ScalingGroupPlan, DeletingTheGroupLiftsProtectionTerminatesAllThenLetsGo) {
  World w{groupOf({{"minSize", 2}, {"maxSize", 2}})};
  w.group.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  w.instances = {member("web-a", "us-east-1a"), member("web-b", "us-east-1b")};
  w.instances[0].spec.disableApiTermination = true;
  const auto d = w.plan();
  ASSERT_EQ(d.plan.all<ApplyObject>().size(), 1u);
  EXPECT_EQ(d.plan.all<ApplyObject>()[0]->object["spec"]["disableApiTermination"], false);
  EXPECT_EQ(terminated(d.plan), (std::vector<std::string>{"web-a", "web-b"}));
  EXPECT_FALSE(d.plan.first<RemoveFinalizer>()) << "held until the instances are gone";
  w.instances.clear();
  EXPECT_TRUE(w.plan().plan.first<RemoveFinalizer>());
}

TEST(ScalingGroupPlan, ANewGroupGetsItsFinalizerFirst) {
  World w{groupOf({{"minSize", 1}, {"maxSize", 1}})};
  w.group.metadata.finalizers.clear();
  const auto d = w.plan();
  ASSERT_FALSE(d.plan.actions.empty());
  EXPECT_TRUE(std::holds_alternative<AddFinalizer>(d.plan.actions.front()));
}

// A launch still pending past a short grace period is judged at the start
// timeout: the group must look again then, as nothing else wakes it (an
// instance hung in boot changes no status).
TEST(ScalingGroupPlan, APendingLaunchIsLookedAtAgainAtTheStartTimeout) {
  World w{groupOf({{"minSize", 1}, {"maxSize", 1}, {"healthCheck", {{"gracePeriodSeconds", 8}}}})};
  w.instances = {member("web-a", "us-east-1a", "pending")};
  w.instances[0].metadata.creationTimestamp = kube::formatRfc3339(kNow - 20s);
  w.startTimeout = 30s;
  const auto d = w.plan();
  ASSERT_TRUE(d.plan.requeueAfter);
  EXPECT_GT(*d.plan.requeueAfter, 9s);
  EXPECT_LE(*d.plan.requeueAfter, 11s);  // 30 s from creation, 1 s of slack
}

// During a large scale-out instances come into service one by one: a
// status whose only change is in its counts is written at most once a
// second, and the plan comes back for the last counts.
TEST(ScalingGroupPlan, StatusCountsAloneAreWrittenAtMostOnceASecond) {
  World w{groupOf({{"minSize", 3}, {"maxSize", 3}})};
  w.instances = {member("web-a", "us-east-1a"), member("web-b", "us-east-1b", "pending"),
                 member("web-c", "us-east-1c", "pending")};
  for (auto* i : {&w.instances[1], &w.instances[2]})
    i->metadata.creationTimestamp = kube::formatRfc3339(kNow - 5s);
  const json first = statusOf(w.plan().plan);
  w.group = groupOf({{"minSize", 3}, {"maxSize", 3}}, first);
  w.instances[1] = member("web-b", "us-east-1b");  // in service; web-c still pending
  w.lastStatusWrite = kNow - 100ms;
  auto d = w.plan();
  EXPECT_TRUE(statusOf(d.plan).is_null()) << "not within the interval: " << statusOf(d.plan);
  ASSERT_TRUE(d.plan.requeueAfter);
  EXPECT_LE(*d.plan.requeueAfter, 900ms);
  w.lastStatusWrite = kNow - 2s;
  d = w.plan();
  ASSERT_FALSE(statusOf(d.plan).is_null());
  EXPECT_EQ(statusOf(d.plan)["inServiceCount"], 2);
}

// A warm instance waited stopped in the pool for an hour; taken into the
// group it starts now, and its grace period counts from now (found trying
// it as a user: the whole pool was "replaced" as it was taken).
TEST(ScalingGroupPlan, AnInstanceTakenFromTheWarmPoolGetsItsGracePeriodFromThen) {
  v1::Instance taken = member("web-w", "us-east-1a", "stopped");
  taken.metadata.annotations[api::kLeftWarmPoolAnnotation] = kube::formatRfc3339(kNow - 10s);
  const auto health = healthSettingsOf(groupOf({{"minSize", 1}, {"maxSize", 1}}).spec);
  EXPECT_EQ(memberOf(taken, health, {}, kNow).lifecycle, Lifecycle::Pending);
  EXPECT_EQ(memberOf(taken, health, {}, kNow + 300s).lifecycle, Lifecycle::Unhealthy)
      << "and is checked once the grace period from then is over";
}

// Every member of a status the plan writes is a value the API server
// takes and keeps: no nulls and no empty strings (the server reads "" in a
// merge patch as null; the executor drops them, and a plan that wrote one
// would differ from what it reads back, and write again forever).
void expectNoNulls(const json& j, const std::string& at = "status") {
  if (j.is_null()) ADD_FAILURE() << at << " is null";
  if (j.is_string() && j.get<std::string>().empty()) ADD_FAILURE() << at << " is empty";
  if (j.is_object())
    for (const auto& [k, v] : j.items()) expectNoNulls(v, at + "." + k);
  if (j.is_array())
    for (std::size_t i = 0; i < j.size(); ++i)
      expectNoNulls(j[i], at + "[" + std::to_string(i) + "]");
}

TEST(ScalingGroupPlan, ANewLatestVersionStartsAnInstanceRefresh) {
  const json spec = {
      {"minSize", 4},
      {"maxSize", 4},
      {"instanceRefresh", {{"minHealthyPercentage", 75}, {"maxHealthyPercentage", 100}}}};
  json gs = spec;
  gs["launchTemplateRef"] = {{"name", "web"}, {"version", "$Latest"}};
  World w{groupOf(gs)};
  w.instances = {member("web-a", "us-east-1a"), member("web-b", "us-east-1b"),
                 member("web-c", "us-east-1c"), member("web-d", "us-east-1a")};
  // Settled at version 1.
  json settled = statusOf(w.plan().plan);
  expectNoNulls(settled);
  w.group = v1::ScalingGroup::fromJson([&] {
    json g = w.group.toJson();
    g["status"] = settled;
    return g;
  }());
  w.launchTemplate = templ(2);
  const auto d = w.plan();
  const json s = statusOf(d.plan);
  expectNoNulls(s);
  ASSERT_TRUE(s.contains("instanceRefresh")) << s;
  EXPECT_EQ(s["instanceRefresh"]["status"], "InProgress");
  EXPECT_EQ(s["instanceRefresh"]["targetVersion"], 2);
  EXPECT_EQ(conditionOf(s, "InstanceRefreshing"), "True/InProgress");
  EXPECT_EQ(terminated(d.plan).size(), 1u) << "75 % of 4 stay in service";
}

// maxHealthyPercentage above 100: the refresh launches its successors first,
// up to floor(desired * max / 100) instances in all, and no further while
// they are pending. It used to launch its extra instances again at every
// reconcile until they came into service (2 of 20 each time: 22, 24, 26
// ...); found by the crash-consistency test (tests/reliability).
TEST(ScalingGroupPlan, ARefreshLaunchingFirstStaysWithinMaxHealthyPercentage) {
  json gs = {{"minSize", 20},
             {"maxSize", 20},
             {"launchTemplateRef", {{"name", "web"}, {"version", "$Latest"}}},
             {"instanceRefresh",
              {{"minHealthyPercentage", 90},
               {"maxHealthyPercentage", 110},
               {"instanceWarmupSeconds", 0}}}};
  World w{groupOf(gs)};
  const std::vector<std::string> zones = {"us-east-1a", "us-east-1b", "us-east-1c"};
  for (std::size_t i = 0; i < 20; ++i)
    w.instances.push_back(member("web-" + std::to_string(i), zones[i % 3]));
  json settled = statusOf(w.plan().plan);
  w.group = v1::ScalingGroup::fromJson([&] {
    json g = w.group.toJson();
    g["status"] = settled;
    return g;
  }());
  w.launchTemplate = templ(2);
  // Each plan's writes applied as the executor would: terminated instances
  // gone, launches pending at version 2; nothing comes into service.
  std::size_t most = 0;
  for (int step = 0; step < 6; ++step) {
    const auto d = w.plan();
    const auto gone = terminated(d.plan);
    std::erase_if(w.instances, [&](const v1::Instance& i) {
      return std::find(gone.begin(), gone.end(), i.metadata.name) != gone.end();
    });
    int n = 0;
    for (const auto* c : d.plan.all<CreateObject>()) {
      json i = member("new-" + std::to_string(step) + "-" + std::to_string(n++),
                      c->object["spec"].value("availabilityZone", "us-east-1a"), "pending", 2)
                   .toJson();
      i["metadata"]["annotations"] = c->object["metadata"].value("annotations", json::object());
      i["metadata"]["creationTimestamp"] = kube::formatRfc3339(kNow);  // within its grace period
      w.instances.push_back(v1::Instance::fromJson(i));
    }
    if (const json s = statusOf(d.plan); s.is_object())
      w.group = v1::ScalingGroup::fromJson([&] {
        json g = w.group.toJson();
        g["status"] = s;
        return g;
      }());
    most = std::max(most, w.instances.size());
  }
  EXPECT_EQ(most, 22u) << "floor(20 * 110 / 100) instances at most, and the room used";
}

}  // namespace
}  // namespace kubec2::reconcilers
