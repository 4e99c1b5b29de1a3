// An ElasticIP's reconcile, table-tested: the Service and the one-endpoint
// EndpointSlice it writes, association as the instance comes and goes, a
// move between instances in one write, the name conflict, and the status
// and Events a user reads.
#include "reconcilers/elasticip/plan.h"

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/well_known.h"
#include "runtime/timefmt.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace eip = kubec2::reconcilers::elasticip;
namespace rec = kubec2::reconcilers;
namespace v1 = kubec2::api::v1alpha1;

const eip::Time t0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30} + 10h;

v1::Instance instance(const std::string& name, const std::string& state, const std::string& ip) {
  json j = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", "Instance"},
            {"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", "uid-" + name}}},
            {"spec", {{"instanceType", "t3.micro"}}},
            {"status", {{"state", state}, {"nodeName", "node-a"}, {"zone", "zone-a"}}}};
  if (!ip.empty()) j["status"]["privateIP"] = ip;
  return v1::Instance::fromJson(j);
}

json elasticIPJson() {
  return {
      {"apiVersion", "compute.kubec2.io/v1alpha1"},
      {"kind", "ElasticIP"},
      {"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "eip-uid"}, {"generation", 1}}},
      {"spec",
       {{"instanceRef", {{"name", "db-a"}}},
        {"ports", {{{"port", 5432}}, {{"port", 53}, {"protocol", "UDP"}, {"targetPort", 5353}}}}}}};
}

struct World {
  json eip = elasticIPJson();
  std::optional<v1::Instance> inst = instance("db-a", "running", "10.244.0.5");
  json service = {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "svc-uid"}}},
                  {"spec", {{"clusterIP", "10.96.0.50"}}}};
  bool serviceExists = true;
  bool serviceNameTaken = false;
  std::optional<json> slice;
  rec::DiscoveryVersion discovery = rec::DiscoveryVersion::V1;

  rec::Plan plan() {
    parsed = v1::ElasticIP::fromJson(eip);
    eip::ElasticIPObservation o;
    o.elasticIP = &parsed;
    o.instance = inst ? &*inst : nullptr;
    o.service = serviceExists ? &service : nullptr;
    o.serviceNameTaken = serviceNameTaken;
    o.endpointSlice = slice ? &*slice : nullptr;
    o.discovery = discovery;
    o.now = t0;
    return eip::planElasticIP(o);
  }
  // The status the plan writes (the old one when it writes none).
  json status(const rec::Plan& p) {
    const auto* s = p.first<rec::PatchStatus>();
    return s ? s->status : eip.value("status", json::object());
  }
  // Applies what the plan writes, as the API server would keep it, so the
  // next plan sees it.
  void settle(const rec::Plan& p) {
    if (const auto* s = p.first<rec::PatchStatus>()) eip["status"] = s->status;
    for (const auto* a : p.all<rec::ApplyObject>())
      if (a->object["kind"] == "EndpointSlice") slice = a->object;
  }
  v1::ElasticIP parsed;
};

// The condition of `type` in `status` (null when absent).
json condition(const json& status, const std::string& type) {
  if (auto cs = status.find("conditions"); cs != status.end())
    for (const auto& c : *cs)
      if (c["type"] == type) return c;
  return nullptr;
}

std::vector<std::string> events(const rec::Plan& p, const std::string& reason) {
  std::vector<std::string> out;
  for (const auto* e : p.all<rec::RecordEvent>())
    if (e->reason == reason) out.push_back(e->message);
  return out;
}

TEST(ElasticIPRender, ServiceHasNoSelectorAndNamesEveryPort) {
  const auto e = v1::ElasticIP::fromJson(elasticIPJson());
  const json s = eip::renderService(e);
  EXPECT_EQ(s["metadata"]["name"], "db");
  EXPECT_EQ(s["spec"]["type"], "ClusterIP");
  EXPECT_FALSE(s["spec"].contains("selector"));
  EXPECT_FALSE(s["spec"].contains("clusterIP"));  // the cluster picks one
  ASSERT_EQ(s["spec"]["ports"].size(), 2u);
  EXPECT_EQ(
      s["spec"]["ports"][0],
      json({{"name", "tcp-5432"}, {"port", 5432}, {"protocol", "TCP"}, {"targetPort", 5432}}));
  EXPECT_EQ(s["spec"]["ports"][1],
            json({{"name", "udp-53"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 5353}}));
  EXPECT_EQ(s["metadata"]["labels"][kubec2::api::kElasticIPLabel], "db");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], "eip-uid");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["controller"], true);
}

TEST(ElasticIPRender, FixedAddressIsTheClusterIpOrTheLoadBalancerIp) {
  json j = elasticIPJson();
  j["spec"]["address"] = "10.96.0.50";
  EXPECT_EQ(eip::renderService(v1::ElasticIP::fromJson(j))["spec"]["clusterIP"], "10.96.0.50");
  j["spec"]["scheme"] = "internet-facing";
  const json s = eip::renderService(v1::ElasticIP::fromJson(j));
  EXPECT_EQ(s["spec"]["type"], "LoadBalancer");
  EXPECT_EQ(s["spec"]["loadBalancerIP"], "10.96.0.50");
  EXPECT_FALSE(s["spec"].contains("clusterIP"));
}

TEST(ElasticIPPlan, RunningInstanceIsTheSliceOnlyEndpoint) {
  World w;
  const auto p = w.plan();
  const auto* slice = p.applyOf("EndpointSlice", "db.eip");
  ASSERT_NE(slice, nullptr);
  const json& s = slice->object;
  EXPECT_EQ(s["metadata"]["labels"]["kubernetes.io/service-name"], "db");
  EXPECT_EQ(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
            "elasticip.compute.kubec2.io");
  EXPECT_EQ(s["addressType"], "IPv4");
  ASSERT_EQ(s["endpoints"].size(), 1u);
  EXPECT_EQ(s["endpoints"][0]["addresses"], json::array({"10.244.0.5"}));
  EXPECT_EQ(s["endpoints"][0]["conditions"]["ready"], true);
  EXPECT_EQ(s["endpoints"][0]["targetRef"]["name"], "db-a");
  // Paired with the Service's ports by name, at the target port.
  EXPECT_EQ(s["ports"][1], json({{"name", "udp-53"}, {"port", 5353}, {"protocol", "UDP"}}));

  const json st = w.status(p);
  EXPECT_EQ(st["address"], "10.96.0.50");
  EXPECT_EQ(st["association"], "associated");
  EXPECT_EQ(st["instance"], "db-a");
  EXPECT_EQ(st["privateIP"], "10.244.0.5");
  EXPECT_EQ(st["associatedAt"], kube::formatRfc3339(t0));
  EXPECT_EQ((condition(st, "Ready"))["status"], "True");
  EXPECT_EQ((condition(st, "Associated"))["reason"], "InstanceRunning");
  EXPECT_EQ(events(p, "Associated"), std::vector<std::string>{"associated with Instance db-a"});
}

TEST(ElasticIPPlan, SettledPlanWritesNothing) {
  World w;
  w.settle(w.plan());
  const auto p = w.plan();
  EXPECT_EQ(p.first<rec::PatchStatus>(), nullptr);
  EXPECT_TRUE(events(p, "Associated").empty());
}

TEST(ElasticIPPlan, MoveReplacesTheEndpointInOneWrite) {
  World w;
  w.settle(w.plan());
  w.eip["spec"]["instanceRef"]["name"] = "db-b";
  w.inst = instance("db-b", "running", "10.244.0.9");
  const auto p = w.plan();
  const auto slices = p.all<rec::ApplyObject>();
  std::vector<json> sliceWrites;
  for (const auto* a : slices)
    if (a->object["kind"] == "EndpointSlice") sliceWrites.push_back(a->object);
  ASSERT_EQ(sliceWrites.size(), 1u);
  ASSERT_EQ(sliceWrites[0]["endpoints"].size(), 1u);  // never both instances
  EXPECT_EQ(sliceWrites[0]["endpoints"][0]["targetRef"]["name"], "db-b");
  EXPECT_EQ(p.all<rec::DeleteObject>().size(), 0u);
  const json st = w.status(p);
  EXPECT_EQ(st["instance"], "db-b");
  EXPECT_EQ(events(p, "Associated"),
            std::vector<std::string>{"associated with Instance db-b (moved from Instance db-a)"});
}

TEST(ElasticIPPlan, StoppedInstanceKeepsTheAssociationWithoutAnEndpoint) {
  World w;
  w.settle(w.plan());
  w.inst = instance("db-a", "stopped", "");
  const auto p = w.plan();
  const auto* slice = p.applyOf("EndpointSlice", "db.eip");
  ASSERT_NE(slice, nullptr);
  EXPECT_TRUE(slice->object["endpoints"].empty());
  const json st = w.status(p);
  EXPECT_EQ(st["association"], "associated");
  EXPECT_EQ(st["associatedAt"], kube::formatRfc3339(t0));  // kept
  EXPECT_FALSE(st.contains("privateIP"));
  EXPECT_EQ((condition(st, "Associated"))["status"], "True");
  EXPECT_EQ((condition(st, "Associated"))["reason"], "InstanceNotRunning");
  EXPECT_TRUE(events(p, "Disassociated").empty());
}

TEST(ElasticIPPlan, TerminatedInstanceLeavesTheAddressAllocatedAndUnassociated) {
  World w;
  w.settle(w.plan());
  for (const bool deleting : {true, false}) {
    World v = w;
    if (deleting)
      v.inst->metadata.deletionTimestamp = "2026-11-30T10:00:00Z";
    else
      v.inst.reset();
    const auto p = v.plan();
    const auto* slice = p.applyOf("EndpointSlice", "db.eip");
    ASSERT_NE(slice, nullptr);
    EXPECT_TRUE(slice->object["endpoints"].empty());
    EXPECT_TRUE(p.all<rec::DeleteObject>().empty());
    const json st = v.status(p);
    EXPECT_EQ(st["association"], "unassociated");
    EXPECT_FALSE(st.contains("instance"));
    EXPECT_EQ(st["address"], "10.96.0.50");
    EXPECT_EQ((condition(st, "Ready"))["status"], "True");
    EXPECT_EQ((condition(st, "Associated"))["reason"],
              deleting ? "InstanceTerminating" : "InstanceNotFound");
    const auto said = events(p, "Disassociated");
    ASSERT_EQ(said.size(), 1u);
    EXPECT_NE(said[0].find("disassociated from Instance db-a"), std::string::npos);
  }
}

TEST(ElasticIPPlan, InstanceAppearingLaterIsAssociated) {
  World w;
  w.inst.reset();
  w.settle(w.plan());
  EXPECT_EQ(w.eip["status"]["association"], "unassociated");
  w.inst = instance("db-a", "running", "10.244.0.5");
  const auto p = w.plan();
  EXPECT_EQ(w.status(p)["association"], "associated");
  EXPECT_EQ(events(p, "Associated").size(), 1u);
}

TEST(ElasticIPPlan, WithoutInstanceRefIsAllocatedOnly) {
  World w;
  w.eip["spec"].erase("instanceRef");
  w.inst.reset();
  const auto p = w.plan();
  const json st = w.status(p);
  EXPECT_EQ(st["association"], "unassociated");
  EXPECT_EQ((condition(st, "Associated"))["reason"], "NotRequested");
  EXPECT_TRUE(p.applyOf("EndpointSlice", "db.eip")->object["endpoints"].empty());
}

TEST(ElasticIPPlan, NewServiceIsProvisioningAndWrittenAfterTheStatus) {
  World w;
  w.serviceExists = false;
  const auto p = w.plan();
  ASSERT_FALSE(p.actions.empty());
  const auto* last = std::get_if<rec::ApplyObject>(&p.actions.back());
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->object["kind"], "Service");
  EXPECT_FALSE(last->object["spec"].contains("clusterIP"));  // the cluster picks one
  const json st = w.status(p);
  EXPECT_EQ(condition(st, "Ready")["reason"], "Provisioning");
  EXPECT_FALSE(st.contains("address"));
  EXPECT_EQ(condition(st, "Associated")["reason"], "InstanceRunning");
}

TEST(ElasticIPPlan, ServiceDeletedByHandComesBackWithItsAddress) {
  World w;
  w.settle(w.plan());
  w.serviceExists = false;
  const auto p = w.plan();
  const auto* svc = p.applyOf("Service", "db");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(svc->object["spec"]["clusterIP"], "10.96.0.50");
  const json st = w.status(p);
  EXPECT_EQ(st["address"], "10.96.0.50");
  EXPECT_EQ(condition(st, "Ready")["reason"], "ServiceRecreated");
  const auto said = events(p, "ServiceRecreated");
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("asking for its address 10.96.0.50 again"), std::string::npos);
  // Said once.
  w.settle(p);
  EXPECT_TRUE(events(w.plan(), "ServiceRecreated").empty());
}

TEST(ElasticIPPlan, RefusedServiceKeepsTheServersAnswerAndTheAssociationIsShown) {
  World w;
  w.serviceExists = false;
  w.eip["status"] = {{"conditions",
                      {{{"type", "Ready"},
                        {"status", "False"},
                        {"reason", "WriteFailed"},
                        {"message", "provided IP is already allocated"}}}}};
  const auto p = w.plan();
  const json st = w.status(p);
  EXPECT_EQ(condition(st, "Ready")["reason"], "WriteFailed");
  EXPECT_EQ(condition(st, "Ready")["message"], "provided IP is already allocated");
  EXPECT_EQ(st["association"], "associated");
  EXPECT_EQ(condition(st, "Associated")["reason"], "InstanceRunning");
  EXPECT_NE(p.applyOf("Service", "db"), nullptr);  // tried again
}

TEST(ElasticIPPlan, SelectorOrPortsAddedByHandAreTakenBack) {
  World w;
  w.settle(w.plan());
  // The Service as the operator applied it (its stamp too), then edited.
  const json applied = w.plan().applyOf("Service", "db")->object;
  w.service["metadata"]["annotations"] = applied["metadata"]["annotations"];
  w.service["spec"]["selector"] = {{"app", "evil"}};
  w.service["spec"]["ports"] = {
      {{"name", "tcp-5432"}, {"port", 5432}, {"protocol", "TCP"}, {"targetPort", 5432}},
      {{"name", "udp-53"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 5353}},
      {{"name", "x"}, {"port", 9999}, {"protocol", "TCP"}, {"targetPort", 9999}}};
  const auto p = w.plan();
  const auto* patch = p.first<rec::MergePatchObject>();
  ASSERT_NE(patch, nullptr);
  EXPECT_TRUE(patch->patch["spec"]["selector"].is_null());
  EXPECT_EQ(patch->patch["spec"]["ports"].size(), 2u);
  const auto said = events(p, "ServiceRestored");
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("a selector and ports kubec2 did not write (x 9999/TCP)"),
            std::string::npos)
      << said[0];
  EXPECT_NE(p.applyOf("Service", "db"), nullptr);
}

TEST(ElasticIPPlan, AChangeOfSpecPortsIsNoHandEdit) {
  World w;
  w.settle(w.plan());
  // The Service as the operator applied it, then spec.ports changed.
  const json applied = w.plan().applyOf("Service", "db")->object;
  w.service["spec"]["ports"] = applied["spec"]["ports"];
  w.service["metadata"]["annotations"] = applied["metadata"]["annotations"];
  w.eip["spec"]["ports"][0]["port"] = 5433;
  const auto p = w.plan();
  EXPECT_TRUE(events(p, "ServiceRestored").empty());
  EXPECT_EQ(p.first<rec::MergePatchObject>(), nullptr);
  const auto* svc = p.applyOf("Service", "db");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(svc->object["spec"]["ports"][0]["port"], 5433);
}

TEST(ElasticIPPlan, AnInstanceOfTheOtherFamilyGetsNoTraffic) {
  World w;
  w.service["spec"]["ipFamilies"] = {"IPv6"};
  w.service["spec"]["clusterIP"] = "fd00::50";
  const auto p = w.plan();  // the instance is 10.244.0.5
  const auto* slice = p.applyOf("EndpointSlice", "db.eip");
  ASSERT_NE(slice, nullptr);
  EXPECT_EQ(slice->object["addressType"], "IPv6");
  EXPECT_TRUE(slice->object["endpoints"].empty());
  const json st = w.status(p);
  EXPECT_EQ(condition(st, "Associated")["reason"], "AddressFamilyMismatch");
  EXPECT_FALSE(st.contains("privateIP"));
}

TEST(ElasticIPPlan, AnEmptySliceKeepsItsAddressType) {
  World w;
  w.inst = instance("db-a", "running", "fd00::5");
  w.settle(w.plan());
  ASSERT_EQ(w.slice->at("addressType"), "IPv6");
  w.inst = instance("db-a", "stopped", "");
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::DeleteObject>().empty());  // not recreated as IPv4
  EXPECT_EQ(p.applyOf("EndpointSlice", "db.eip")->object["addressType"], "IPv6");
}

TEST(ElasticIPPlan, WriteFailedStaysWhileTheServiceIsStillToBeWritten) {
  World w;
  w.eip["status"] = {{"conditions",
                      {{{"type", "Ready"},
                        {"status", "False"},
                        {"reason", "WriteFailed"},
                        {"message", "admission webhook denied the request"}}}}};
  const auto p = w.plan();  // the Service exists, and is to be applied again
  ASSERT_NE(p.applyOf("Service", "db"), nullptr);
  EXPECT_EQ(condition(w.status(p), "Ready")["reason"], "WriteFailed");
}

TEST(ElasticIPPlan, BeingReleasedWritesNothing) {
  World w;
  w.eip["metadata"]["deletionTimestamp"] = "2026-11-30T10:00:00Z";
  EXPECT_TRUE(w.plan().empty());  // --cascade=orphan keeps the Service as it is
}

TEST(ElasticIPPlan, InternetFacingWaitsForItsExternalAddress) {
  World w;
  w.eip["spec"]["scheme"] = "internet-facing";
  w.service["spec"]["type"] = "LoadBalancer";  // its cluster IP is not the address
  json st = w.status(w.plan());
  EXPECT_EQ((condition(st, "Ready"))["reason"], "AddressPending");
  w.service["status"]["loadBalancer"]["ingress"] = json::array({{{"ip", "203.0.113.7"}}});
  st = w.status(w.plan());
  EXPECT_EQ(st["address"], "203.0.113.7");
  EXPECT_EQ((condition(st, "Ready"))["reason"], "Allocated");
}

TEST(ElasticIPPlan, ServiceNameOfSomebodyElseIsNeverWritten) {
  World w;
  w.serviceExists = false;
  w.serviceNameTaken = true;
  w.slice = json{{"metadata", {{"name", "db.eip"}, {"uid", "slice-uid"}}}, {"addressType", "IPv4"}};
  const auto p = w.plan();
  EXPECT_EQ(p.applyOf("Service", "db"), nullptr);
  EXPECT_EQ(p.applyOf("EndpointSlice", "db.eip"), nullptr);
  ASSERT_EQ(p.all<rec::DeleteObject>().size(), 1u);  // it would feed that Service
  EXPECT_EQ(p.all<rec::DeleteObject>()[0]->uid, "slice-uid");
  const json st = w.status(p);
  EXPECT_EQ((condition(st, "Ready"))["reason"], "NameConflict");
  EXPECT_EQ(st["association"], "unassociated");
  EXPECT_EQ(events(p, "NameConflict").size(), 1u);
  ASSERT_TRUE(p.requeueAfter);
  EXPECT_EQ(*p.requeueAfter, std::chrono::milliseconds(eip::kRecheckNameTaken));
}

TEST(ElasticIPPlan, AddressFamilyChangeRecreatesTheSlice) {
  World w;
  w.settle(w.plan());
  w.slice->operator[]("metadata")["uid"] = "slice-uid";
  w.inst = instance("db-a", "running", "fd00::5");
  const auto p = w.plan();
  const auto deletes = p.all<rec::DeleteObject>();
  ASSERT_EQ(deletes.size(), 1u);  // addressType is immutable
  EXPECT_EQ(deletes[0]->name, "db.eip");
  const auto* slice = p.applyOf("EndpointSlice", "db.eip");
  ASSERT_NE(slice, nullptr);
  EXPECT_EQ(slice->object["addressType"], "IPv6");
}

TEST(ElasticIPPlan, V1beta1SlicesCarryTopology) {
  World w;
  w.discovery = rec::DiscoveryVersion::V1beta1;
  const auto p = w.plan();
  const json& s = p.applyOf("EndpointSlice", "db.eip")->object;
  EXPECT_EQ(s["apiVersion"], "discovery.k8s.io/v1beta1");
  EXPECT_EQ(s["endpoints"][0]["topology"]["kubernetes.io/hostname"], "node-a");
}

}  // namespace
