// The webhook's AdmissionReview envelope and certificates, without sockets.
#include <openssl/evp.h>

#include <gtest/gtest.h>

#include "api/validation/lookups.h"
#include "controllers/webhook/admission.h"
#include "controllers/webhook/certs.h"

namespace kubec2::webhook {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string unbase64(const std::string& in) {
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --n;
  out.resize(static_cast<size_t>(n));
  return out;
}

json reviewOf(const json& object, const std::string& op = "CREATE",
              const std::string& apiVersion = "admission.k8s.io/v1") {
  return {{"apiVersion", apiVersion},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "u-1"},
            {"kind",
             {{"group", "compute.kubec2.io"}, {"version", "v1alpha1"}, {"kind", object["kind"]}}},
            {"operation", op},
            {"name", object["metadata"]["name"]},
            {"object", object}}}};
}

json scalingGroup(int minSize, int maxSize) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ScalingGroup"},
          {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
          {"spec",
           {{"minSize", minSize}, {"maxSize", maxSize}, {"launchTemplateRef", {{"name", "web"}}}}}};
}

// Found reading the code for tests/fuzz/admission_review_fuzz: a `kind` or
// `apiVersion` of the wrong type threw json::type_error out of review(),
// which promises never to throw.
TEST(AdmissionReview, AnEnvelopeFieldOfTheWrongTypeIsABadRequest) {
  for (const char* body : {R"({"kind":1,"apiVersion":"admission.k8s.io/v1"})",
                           R"({"kind":"AdmissionReview","apiVersion":["admission.k8s.io/v1"]})"}) {
    HttpAnswer a;
    EXPECT_NO_THROW(a = review(Endpoint::Validate, body)) << body;
    EXPECT_EQ(a.status, 400) << body;
    EXPECT_TRUE(json::parse(a.body).contains("error")) << a.body;
  }
}

TEST(AdmissionReview, AllowsAValidObjectEchoingTheUidAndApiVersion) {
  for (const char* v : {"admission.k8s.io/v1", "admission.k8s.io/v1beta1"}) {
    const HttpAnswer a =
        review(Endpoint::Validate, reviewOf(scalingGroup(1, 3), "CREATE", v).dump());
    ASSERT_EQ(a.status, 200) << a.body;
    const json out = json::parse(a.body);
    EXPECT_EQ(out["apiVersion"], v);
    EXPECT_EQ(out["kind"], "AdmissionReview");
    EXPECT_EQ(out["response"]["uid"], "u-1");
    EXPECT_EQ(out["response"]["allowed"], true);
  }
}

TEST(AdmissionReview, DeniesWith422NamingTheFieldAsTheApiServerDoes) {
  const HttpAnswer a = review(Endpoint::Validate, reviewOf(scalingGroup(5, 3)).dump());
  ASSERT_EQ(a.status, 200);
  const json r = json::parse(a.body)["response"];
  EXPECT_EQ(r["allowed"], false);
  EXPECT_EQ(r["status"]["code"], 422);
  EXPECT_EQ(r["status"]["reason"], "Invalid");
  const std::string msg = r["status"]["message"];
  EXPECT_NE(msg.find("ScalingGroup.compute.kubec2.io \"web\" is invalid"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("spec.minSize"), std::string::npos) << msg;
  ASSERT_FALSE(r["status"]["details"]["causes"].empty());
  const json cause = r["status"]["details"]["causes"][0];
  EXPECT_EQ(cause["reason"], "FieldValueInvalid");
  EXPECT_EQ(cause["field"], "spec.minSize");
  // kubectl prints "field: message", so the message must not repeat the field.
  EXPECT_EQ(cause["message"], "Invalid value: 5: must be less than or equal to spec.maxSize (3)");
}

TEST(AdmissionReview, BodiesThatAreNotReviewsAre400WithTheCause) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"{not json", "not JSON"},
      {"[1,2]", "not an AdmissionReview"},
      {R"({"kind":"Pod"})", "not an AdmissionReview"},
      {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v2"})", "unsupported"},
      {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"})", "request.uid"},
      {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":7}})",
       "request.uid"},
      {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x","operation":5,"kind":{"group":"compute.kubec2.io","kind":"Instance"}}})",
       "malformed"},
  };
  for (const auto& [body, cause] : cases) {
    const HttpAnswer a = review(Endpoint::Validate, body);
    EXPECT_EQ(a.status, 400) << body;
    EXPECT_NE(a.body.find(cause), std::string::npos) << body << " -> " << a.body;
    EXPECT_TRUE(json::accept(a.body)) << a.body;
  }
}

TEST(AdmissionReview, OversizedBodyIs413) {
  const HttpAnswer a = review(Endpoint::Validate, std::string(kMaxReviewBytes + 1, ' '));
  EXPECT_EQ(a.status, 413);
}

TEST(AdmissionReview, OtherKindsAndGroupsPassUntouched) {
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "p"}}}};
  json r = reviewOf(pod);
  r["request"]["kind"]["group"] = "";
  const json out = json::parse(review(Endpoint::Validate, r.dump()).body);
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
}

TEST(AdmissionReview, MutateAnswersABase64JsonPatchThatSetsTheDefaults) {
  json lb = {
      {"apiVersion", "compute.kubec2.io/v1alpha1"},
      {"kind", "LoadBalancer"},
      {"metadata", {{"name", "db"}}},
      {"spec",
       {{"type", "network"},
        {"listeners", {{{"port", 5432}, {"protocol", "TCP"}, {"defaultTargetGroup", "db"}}}},
        {"targetGroups",
         {{{"name", "db"}, {"port", 5432}, {"targets", {{"instanceRefs", {{{"name", "a"}}}}}}}}}}}};
  const json out = json::parse(review(Endpoint::Mutate, reviewOf(lb).dump()).body)["response"];
  EXPECT_EQ(out["allowed"], true);
  ASSERT_EQ(out.value("patchType", ""), "JSONPatch");
  const json patched = lb.patch(json::parse(unbase64(out["patch"])));
  EXPECT_EQ(patched["spec"]["targetGroups"][0]["protocol"], "TCP");
}

TEST(AdmissionReview, MutateWithNothingToDefaultSendsNoPatch) {
  const json out =
      json::parse(review(Endpoint::Mutate, reviewOf(scalingGroup(1, 2)).dump()).body)["response"];
  EXPECT_EQ(out["allowed"], true);
  EXPECT_FALSE(out.contains("patch"));
}

// kubectl scale, a PATCH or a PUT of /scale as the HPA sends: the API
// server reviews an autoscaling/v1 Scale, naming the ScalingGroup by
// request.resource and request.subResource.
json scaleReview(int replicas, const std::string& apiVersion = "admission.k8s.io/v1") {
  const json scale = {{"apiVersion", "autoscaling/v1"},
                      {"kind", "Scale"},
                      {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
                      {"spec", {{"replicas", replicas}}}};
  return {
      {"apiVersion", apiVersion},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "u-2"},
        {"kind", {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}},
        {"resource",
         {{"group", "compute.kubec2.io"}, {"version", "v1alpha1"}, {"resource", "scalinggroups"}}},
        {"subResource", "scale"},
        {"operation", "UPDATE"},
        {"name", "web"},
        {"namespace", "shop"},
        {"object", scale},
        {"oldObject", scale}}}};
}

api::StaticLookups groupOf2To12() {
  api::StaticLookups l;
  json g = scalingGroup(2, 12);
  l.cachedScalingGroups["shop/web"] = g;
  return l;
}

TEST(AdmissionReview, ScaleWritesPastTheBoundsAreDeniedAsTheMainResourceIs) {
  const auto lookups = groupOf2To12();
  for (const char* v : {"admission.k8s.io/v1", "admission.k8s.io/v1beta1"}) {
    const HttpAnswer a = review(Endpoint::Validate, scaleReview(50, v).dump(), lookups);
    ASSERT_EQ(a.status, 200) << a.body;
    const json r = json::parse(a.body)["response"];
    EXPECT_EQ(r["uid"], "u-2");
    EXPECT_EQ(r["allowed"], false);
    EXPECT_EQ(r["status"]["code"], 422);
    EXPECT_EQ(r["status"]["details"]["kind"], "ScalingGroup");
    EXPECT_EQ(r["status"]["details"]["causes"][0]["field"], "spec.replicas");
    const std::string msg = r["status"]["message"];
    EXPECT_NE(msg.find("ScalingGroup.compute.kubec2.io \"web\" is invalid: spec.replicas: Invalid "
                       "value: 50: must be less than or equal to spec.maxSize (12)"),
              std::string::npos)
        << msg;
  }
  const json ok =
      json::parse(review(Endpoint::Validate, scaleReview(12).dump(), lookups).body)["response"];
  EXPECT_EQ(ok["allowed"], true);
  // /mutate has nothing to do for a Scale.
  const json m =
      json::parse(review(Endpoint::Mutate, scaleReview(50).dump(), lookups).body)["response"];
  EXPECT_EQ(m["allowed"], true);
  EXPECT_FALSE(m.contains("patch"));
}

TEST(AdmissionReview, AScaleWhoseGroupCannotBeReadIsAnInternalError) {
  api::StaticLookups l;
  l.scalingGroupError = "timeout";
  const json r = json::parse(review(Endpoint::Validate, scaleReview(5).dump(), l).body)["response"];
  EXPECT_EQ(r["allowed"], false);
  EXPECT_EQ(r["status"]["code"], 500);
  EXPECT_EQ(r["status"]["reason"], "InternalError");
}

TEST(AdmissionReview, SubresourcesOfOtherGroupsOrKindsPassUntouched) {
  json r = scaleReview(50);
  r["request"]["resource"]["group"] = "apps";
  r["request"]["resource"]["resource"] = "deployments";
  EXPECT_EQ(
      json::parse(review(Endpoint::Validate, r.dump(), groupOf2To12()).body)["response"]["allowed"],
      true);
}

TEST(AdmissionReview, AdmittedObjectsCarryTheirWarnings) {
  api::StaticLookups l;
  l.instanceTypeNames = std::vector<std::string>{"m5.large", "m5.xlarge"};
  const json inst = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                     {"kind", "Instance"},
                     {"metadata", {{"name", "web-1"}, {"namespace", "shop"}}},
                     {"spec",
                      {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
                       {"instanceType", "m5.gigantic"}}}};
  const json r = json::parse(review(Endpoint::Validate, reviewOf(inst).dump(), l).body)["response"];
  EXPECT_EQ(r["allowed"], true);
  ASSERT_EQ(r.value("warnings", json::array()).size(), 1u) << r;
  EXPECT_NE(r["warnings"][0].get<std::string>().find("m5 has m5.large, m5.xlarge"),
            std::string::npos);
  // Without knowledge, none; a refused object gets its refusal only.
  EXPECT_FALSE(
      json::parse(review(Endpoint::Validate, reviewOf(inst).dump()).body)["response"].contains(
          "warnings"));
  json bad = inst;
  bad["spec"]["tags"] = {{"kubec2:x", "y"}};
  const json d = json::parse(review(Endpoint::Validate, reviewOf(bad).dump(), l).body)["response"];
  EXPECT_EQ(d["allowed"], false);
  EXPECT_FALSE(d.contains("warnings"));
}

const auto kNow = std::chrono::system_clock::now();

TEST(WebhookCerts, GeneratedCertificatesServeTheirHosts) {
  const std::vector<std::string> hosts = {"kubec2-webhook.kubec2-system.svc", "127.0.0.1"};
  const SelfSignedCerts c = generateSelfSigned(hosts, kNow);
  EXPECT_NE(c.caPem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(c.serving.keyPem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(usableUntilRenewal(c, hosts, kNow));
  EXPECT_TRUE(usableUntilRenewal(c, {"127.0.0.1"}, kNow));
}

TEST(WebhookCerts, AnotherHostMeansNewCertificates) {
  const SelfSignedCerts c = generateSelfSigned({"a.ns.svc"}, kNow);
  EXPECT_FALSE(usableUntilRenewal(c, {"b.ns.svc"}, kNow));
  EXPECT_FALSE(usableUntilRenewal(c, {"10.0.0.1"}, kNow));
}

TEST(WebhookCerts, RenewedThirtyDaysBeforeTheyExpire) {
  const SelfSignedCerts c = generateSelfSigned({"a.ns.svc"}, kNow, 3650 * 24h, 365 * 24h);
  EXPECT_TRUE(usableUntilRenewal(c, {"a.ns.svc"}, kNow + 334 * 24h));
  EXPECT_FALSE(usableUntilRenewal(c, {"a.ns.svc"}, kNow + 336 * 24h));
}

TEST(WebhookCerts, MismatchedOrBrokenPiecesAreNotUsable) {
  const SelfSignedCerts a = generateSelfSigned({"a"}, kNow);
  const SelfSignedCerts b = generateSelfSigned({"a"}, kNow);
  SelfSignedCerts mixed = a;
  mixed.serving.keyPem = b.serving.keyPem;  // key of another certificate
  EXPECT_FALSE(usableUntilRenewal(mixed, {"a"}, kNow));
  mixed = a;
  mixed.caPem = b.caPem;  // signed by another CA
  EXPECT_FALSE(usableUntilRenewal(mixed, {"a"}, kNow));
  mixed = a;
  mixed.serving.certPem = "garbage";
  EXPECT_FALSE(usableUntilRenewal(mixed, {"a"}, kNow));
  EXPECT_FALSE(usableUntilRenewal({}, {"a"}, kNow));
}

}  // namespace
}  // namespace kubec2::webhook
