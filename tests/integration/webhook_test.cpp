// The admission webhook on a real API server: the table of invalid manifests
// (testdata/invalid-manifests.yaml) refused by the schema or the webhook
// with the field and the rule, defaults filled in, bodies that are not
// reviews answered with errors, and failurePolicy when the webhook cannot be
// reached.
#include <curl/curl.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "api/v1alpha1/types.h"
#include "controllers/webhook/certs.h"
#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace v1 = kubec2::api::v1alpha1;

const Resource kValidating{"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                           false, "ValidatingWebhookConfiguration"};

const Resource& resourceOf(const std::string& kind) {
  if (kind == "Instance") return v1::Instance::resource();
  if (kind == "LaunchTemplate") return v1::LaunchTemplate::resource();
  if (kind == "ScalingGroup") return v1::ScalingGroup::resource();
  return v1::LoadBalancer::resource();
}

struct HttpReply {
  long status = 0;
  std::string body;
  std::string error;  // transport or TLS error
};

// POSTs to the webhook over HTTPS, trusting only the CA the operator wrote
// into its configurations (so this also checks the serving certificate).
HttpReply post(const std::string& url, const std::string& body,
               const std::string& caPem = WebhookEnvironment::get().caPem()) {
  HttpReply r;
  CURL* c = curl_easy_init();
  curl_blob ca{const_cast<char*>(caPem.data()), caPem.size(), CURL_BLOB_COPY};
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
        static_cast<std::string*>(ud)->append(p, s * n);
        return s * n;
      });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

json review(const json& object, const std::string& op = "CREATE") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "0d8f1e2a-test"},
            {"kind",
             {{"group", "compute.kubec2.io"}, {"version", "v1alpha1"}, {"kind", object["kind"]}}},
            {"operation", op},
            {"name", object["metadata"]["name"]},
            {"namespace", "default"},
            {"object", object}}}};
}

json invalidScalingGroup(const std::string& name) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ScalingGroup"},
          {"metadata", {{"name", name}}},
          {"spec", {{"minSize", 5}, {"maxSize", 3}, {"launchTemplateRef", {{"name", "web"}}}}}};
}

class Webhook : public ::testing::Test {
 protected:
  RestClient client{adminConfig()};
};

TEST_F(Webhook, EveryInvalidManifestIsRefusedNamingTheFieldAndTheRule) {
  const auto cases = documents(testdata("invalid-manifests.yaml"));
  ASSERT_EQ(cases.size(), 1u) << "the file is one YAML list";
  ASSERT_TRUE(cases[0].is_array());
  std::set<std::string> names;
  int byWebhook = 0, bySchema = 0;
  for (const json& c : cases[0]) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    EXPECT_TRUE(names.insert(name).second) << "duplicate case name";
    const std::string by = c.at("by");
    (by == "webhook" ? byWebhook : bySchema)++;
    const std::string ns = createNamespace(client, "bad");
    for (const json& b : c.value("before", json::array())) {
      auto [code, out] = kubectl({"apply", "--validate=true", "-n", ns, "-f", writeManifest(b)});
      ASSERT_EQ(code, 0) << "a `before` manifest must be valid:\n" << out;
    }
    const json& m = c.at("manifest");
    const std::string kind = m.at("kind"), objName = m.at("metadata").at("name");
    std::optional<json> stored;
    try {
      stored = client.get(resourceOf(kind), ns, objName);
    } catch (const ApiError& e) {
      ASSERT_TRUE(e.isNotFound()) << e.what();
    }

    const bool del = c.value("action", "apply") == "delete";
    const double deniedBefore = WebhookEnvironment::get().deniedReviews();
    auto [code, out] =
        del ? kubectl({"delete", "-n", ns, resourceOf(kind).resource + "/" + objName})
            : kubectl({"apply", "--validate=true", "-n", ns, "-f", writeManifest(m)});
    EXPECT_NE(code, 0) << "accepted:\n" << out;
    for (const auto& want : c.at("expect"))
      EXPECT_NE(out.find(want.get<std::string>()), std::string::npos)
          << "missing \"" << want.get<std::string>() << "\" in:\n"
          << out;
    // Who refused it: kubectl prints the webhook's causes as it prints the
    // schema's, so ask the webhook how many reviews it refused.
    const bool fromWebhook = WebhookEnvironment::get().deniedReviews() > deniedBefore;
    EXPECT_EQ(fromWebhook, by == "webhook") << out;

    // Nothing changed: not created, not updated, not deleted.
    std::optional<json> after;
    try {
      after = client.get(resourceOf(kind), ns, objName);
    } catch (const ApiError& e) {
      ASSERT_TRUE(e.isNotFound()) << e.what();
    }
    ASSERT_EQ(after.has_value(), stored.has_value());
    if (stored) {
      // Unchanged: the spec and its generation (the operator may write status meanwhile).
      EXPECT_EQ((*after)["metadata"]["generation"], (*stored)["metadata"]["generation"]);
      EXPECT_EQ((*after)["spec"], (*stored)["spec"]);
    }
  }
  EXPECT_GE(byWebhook + bySchema, 30);
  EXPECT_GE(byWebhook, 10);
  EXPECT_GE(bySchema, 10);
}

TEST_F(Webhook, ServesWithTheSelfSignedCertificateItKeepsInASecret) {
  const json s = client.get({"", "v1", "secrets", true, "Secret"}, WebhookEnvironment::kNamespace,
                            "kubec2-webhook-tls");
  EXPECT_EQ(s.value("type", ""), "kubernetes.io/tls");
  for (const char* k : {"ca.crt", "tls.crt", "tls.key"}) EXPECT_TRUE(s["data"].contains(k)) << k;
  // The CA from the configurations verifies the server at 127.0.0.1.
  const HttpReply r = post(WebhookEnvironment::get().url("/validate"),
                           review(invalidScalingGroup("direct")).dump());
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  const json answer = json::parse(r.body);
  EXPECT_EQ(answer["response"]["uid"], "0d8f1e2a-test");
  EXPECT_EQ(answer["response"]["allowed"], false);
  EXPECT_EQ(answer["response"]["status"]["code"], 422);
  EXPECT_NE(answer["response"]["status"]["message"].get<std::string>().find("spec.minSize"),
            std::string::npos)
      << r.body;
}

TEST_F(Webhook, BodiesThatAreNotReviewsGetErrorAnswersAndTheWebhookStaysUp) {
  const std::string url = WebhookEnvironment::get().url("/validate");
  HttpReply r = post(url, "this is not json {");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not JSON"), std::string::npos) << r.body;

  r = post(url, R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("request.uid"), std::string::npos) << r.body;

  r = post(url, R"([1,2,3])");
  EXPECT_EQ(r.status, 400);

  // 8 MiB, twice the limit: refused, not read into memory and parsed.
  r = post(url, "[" + std::string(8 * 1024 * 1024, ' ') + "]");
  EXPECT_TRUE(r.status == 413 || !r.error.empty()) << r.status << " " << r.body;
  if (r.status == 413) {
    EXPECT_NE(r.body.find("over"), std::string::npos) << r.body;
  }

  r = post(WebhookEnvironment::get().url("/nowhere"), "{}");
  EXPECT_EQ(r.status, 404);

  // Still serving: a review gets its answer, and the API server's calls too.
  r = post(url, review(invalidScalingGroup("after-garbage")).dump());
  EXPECT_EQ(r.status, 200) << r.error;
  const std::string ns = createNamespace(client, "alive");
  const double deniedBefore = WebhookEnvironment::get().deniedReviews();
  auto [code, out] =
      kubectl({"apply", "-n", ns, "-f", writeManifest(invalidScalingGroup("after-garbage"))});
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("spec.minSize: Invalid value: 5"), std::string::npos) << out;
  EXPECT_GT(WebhookEnvironment::get().deniedReviews(), deniedBefore);
}

TEST_F(Webhook, TargetGroupProtocolsDefaultFromTheLoadBalancerType) {
  const std::string ns = createNamespace(client, "defaults");
  json lb = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
             {"kind", "LoadBalancer"},
             {"metadata", {{"name", "db"}}},
             {"spec",
              {{"type", "network"},
               {"listeners", {{{"port", 5432}, {"protocol", "TCP"}, {"defaultTargetGroup", "db"}}}},
               {"targetGroups",
                {{{"name", "db"},
                  {"port", 5432},
                  {"targets", {{"instanceRefs", {{{"name", "db-1"}}}}}}}}}}}};
  auto [code, out] = kubectl({"apply", "--validate=true", "-n", ns, "-f", writeManifest(lb)});
  ASSERT_EQ(code, 0) << out;
  const auto got = v1::LoadBalancer::fromJson(client.get(v1::LoadBalancer::resource(), ns, "db"));
  ASSERT_EQ(got.spec.targetGroups.size(), 1u);
  EXPECT_EQ(got.spec.targetGroups[0].protocol.value_or("(absent)"), "TCP");
  ASSERT_TRUE(got.spec.targetGroups[0].healthCheck.has_value());
  EXPECT_EQ(got.spec.targetGroups[0].healthCheck->protocol.value_or("(absent)"), "TCP");
}

TEST_F(Webhook, LaunchTemplateAcceptsAnAppendedVersion) {
  const std::string ns = createNamespace(client, "append");
  json lt = documents(std::string(KUBEC2_SOURCE_DIR) + "/examples/launchtemplate.yaml")[0];
  auto [c1, o1] = kubectl({"apply", "-n", ns, "-f", writeManifest(lt)});
  ASSERT_EQ(c1, 0) << o1;
  json next = lt["spec"]["versions"].back();
  next["description"] = "appended by the test";
  lt["spec"]["versions"].push_back(next);
  lt["spec"]["defaultVersion"] = lt["spec"]["versions"].size();
  auto [c2, o2] = kubectl({"apply", "-n", ns, "-f", writeManifest(lt)});
  EXPECT_EQ(c2, 0) << o2;
}

// failurePolicy decides what happens when the API server cannot reach the
// webhook: Fail refuses the request (kubec2's choice, deploy/), Ignore lets
// it through unchecked. Two configurations pointing at a port nothing
// listens on, each selecting objects by a label, show both.
TEST_F(Webhook, UnreachableWebhookFollowsItsFailurePolicy) {
  const int deadPort = freePort();
  auto config = [&](const std::string& policy) {
    return json{
        {"apiVersion", "admissionregistration.k8s.io/v1"},
        {"kind", "ValidatingWebhookConfiguration"},
        {"metadata", {{"name", "kubec2-test-unreachable-" + policy}}},
        {"webhooks",
         {{{"name", "unreachable-" + policy + ".compute.kubec2.io"},
           {"clientConfig",
            {{"url", "https://127.0.0.1:" + std::to_string(deadPort) + "/validate"}}},
           {"rules",
            {{{"apiGroups", {"compute.kubec2.io"}},
              {"apiVersions", {"v1alpha1"}},
              {"operations", {"CREATE"}},
              {"resources", {"launchtemplates"}}}}},
           {"objectSelector", {{"matchLabels", {{"kubec2.io/failure-policy-test", policy}}}}},
           {"failurePolicy", policy == "fail" ? "Fail" : "Ignore"},
           {"sideEffects", "None"},
           {"timeoutSeconds", 2},
           {"admissionReviewVersions", {"v1"}}}}}};
  };
  client.create(kValidating, "", config("fail"));
  client.create(kValidating, "", config("ignore"));
  const std::string ns = createNamespace(client, "policy");
  json lt = documents(std::string(KUBEC2_SOURCE_DIR) + "/examples/launchtemplate.yaml")[0];

  // The API server picks up new configurations within a moment: wait for
  // the Fail one to take effect.
  int n = 0;
  std::string lastOut;
  const bool refused = eventually(
      [&] {
        json o = lt;
        o["metadata"]["name"] = "fail-" + std::to_string(++n);
        o["metadata"]["labels"] = {{"kubec2.io/failure-policy-test", "fail"}};
        auto [code, out] = kubectl({"apply", "-n", ns, "-f", writeManifest(o)});
        lastOut = out;
        return code != 0;
      },
      30s);
  EXPECT_TRUE(refused) << lastOut;
  EXPECT_NE(lastOut.find("failed calling webhook"), std::string::npos) << lastOut;

  json o = lt;
  o["metadata"]["name"] = "ignored";
  o["metadata"]["labels"] = {{"kubec2.io/failure-policy-test", "ignore"}};
  auto [code, out] = kubectl({"apply", "-n", ns, "-f", writeManifest(o)});
  EXPECT_EQ(code, 0) << out;

  client.del(kValidating, "", "kubec2-test-unreachable-fail");
  client.del(kValidating, "", "kubec2-test-unreachable-ignore");
}

// The API server of this binary has no KubeVirt: the operator keeps running
// and says so on every Instance, which got its finalizer at admission.
TEST_F(Webhook, InstancesSayKubeVirtIsMissingAndGetTheirFinalizerAtAdmission) {
  const std::string ns = createNamespace(client, "nokubevirt");
  json inst = documents(std::string(KUBEC2_SOURCE_DIR) + "/examples/instance.yaml")[0];
  inst["metadata"]["name"] = "lonely";
  auto [code, out] = kubectl({"apply", "-n", ns, "-f", writeManifest(inst)});
  ASSERT_EQ(code, 0) << out;
  const json created = client.get(v1::Instance::resource(), ns, "lonely");
  EXPECT_EQ(created["metadata"]["finalizers"], json::array({"compute.kubec2.io/instance"}));
  json condition;
  EXPECT_TRUE(eventually(
      [&] {
        const json i = client.get(v1::Instance::resource(), ns, "lonely");
        for (const auto& c : i.value("status", json::object()).value("conditions", json::array()))
          if (c.value("type", "") == "Ready") condition = c;
        return condition.value("reason", "") == "KubeVirtNotInstalled";
      },
      30s))
      << condition.dump() << WebhookEnvironment::get().operatorLog();
  EXPECT_EQ(condition["status"], "False");
  EXPECT_NE(condition.value("message", "").find("install KubeVirt"), std::string::npos);
  const Resource kEvents{"", "v1", "events", true, "Event"};
  // Events are written asynchronously.
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& e : client.list(kEvents, ns).items)
          if (e.value("reason", "") == "KubeVirtNotInstalled" && e.value("type", "") == "Warning")
            return true;
        return false;
      },
      30s));
  // Deleting still works: nothing was launched, so the finalizer goes.
  std::tie(code, out) = kubectl({"delete", "-n", ns, "instance", "lonely", "--wait=false"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] {
        try {
          client.get(v1::Instance::resource(), ns, "lonely");
          return false;
        } catch (const ApiError& e) {
          return e.isNotFound();
        }
      },
      30s));
}

// An instance type the catalog does not know is accepted (the instance
// type ConfigMap may add it later), and kubectl says so at once.
TEST_F(Webhook, AnUnknownInstanceTypeIsCreatedWithAWarningNamingKnownOnes) {
  const std::string ns = createNamespace(client, "warn");
  const json inst = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                     {"kind", "Instance"},
                     {"metadata", {{"name", "typo"}}},
                     {"spec",
                      {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
                       {"instanceType", "m5.gigantic"}}}};
  const std::string file = writeManifest(inst);
  // The operator's caches sync after it starts, and until then it warns of
  // nothing: a server-side dry run (admission, nothing stored) says when.
  std::string out;
  EXPECT_TRUE(eventually(
      [&] {
        out = kubectl({"apply", "--dry-run=server", "-n", ns, "-f", file}).second;
        return out.find("Warning:") != std::string::npos;
      },
      30s))
      << out;
  int code = 0;
  std::tie(code, out) = kubectl({"apply", "-n", ns, "-f", file});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("Warning: spec.instanceType: m5.gigantic is not a known instance type"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("m5 has m5.large ... m5.24xlarge"), std::string::npos) << out;
  EXPECT_NE(out.find("instance.compute.kubec2.io/typo created"), std::string::npos) << out;
  EXPECT_EQ(client.get(v1::Instance::resource(), ns, "typo")["spec"]["instanceType"],
            "m5.gigantic");
  // A known type: nothing to say.
  json known = inst;
  known["metadata"]["name"] = "fine";
  known["spec"]["instanceType"] = "m5.large";
  std::tie(code, out) = kubectl({"apply", "-n", ns, "-f", writeManifest(known)});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find("Warning:"), std::string::npos) << out;
}

// ScalingGroup web, minSize 2, maxSize 12, desiredCapacity 3, in `ns`.
void createBoundedGroup(const std::string& ns) {
  const json sg = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                   {"kind", "ScalingGroup"},
                   {"metadata", {{"name", "web"}}},
                   {"spec",
                    {{"minSize", 2},
                     {"maxSize", 12},
                     {"desiredCapacity", 3},
                     {"launchTemplateRef", {{"name", "web"}}}}}};
  auto [code, out] = kubectl({"apply", "-n", ns, "-f", writeManifest(sg)});
  ASSERT_EQ(code, 0) << out;
}

std::int64_t desiredCapacity(Client& client, const std::string& ns) {
  return client.get(v1::ScalingGroup::resource(), ns, "web")["spec"].value("desiredCapacity", -1);
}

// Every way of writing a ScalingGroup's capacity through its scale
// subresource is held to the group's bounds, as a write of the group is,
// and works within them.
TEST_F(Webhook, ScaleWritesPastTheBoundsAreRefusedOnEveryPath) {
  const std::string ns = createNamespace(client, "scale");
  createBoundedGroup(ns);
  const Resource& sg = v1::ScalingGroup::resource();
  PatchOptions patchScale;
  patchScale.subresource = "scale";
  WriteOptions putScale;
  putScale.subresource = "scale";
  const std::string words =
      "spec.replicas: Invalid value: 50: must be less than or equal to spec.maxSize (12)";

  // kubectl scale.
  auto [code, out] = kubectl({"scale", "-n", ns, "scalinggroup/web", "--replicas=50"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find(words), std::string::npos) << out;
  EXPECT_NE(out.find("spec.desiredCapacity"), std::string::npos) << out;
  EXPECT_EQ(desiredCapacity(client, ns), 3);

  // A merge PATCH of /scale.
  try {
    client.patch(sg, ns, "web", PatchType::Merge, {{"spec", {{"replicas", 50}}}}, patchScale);
    ADD_FAILURE() << "a PATCH of /scale to 50 was admitted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
  // A PUT of /scale, as the HPA controller sends: the Scale read, changed.
  json scale = client.get(sg, ns, "web", "scale");
  EXPECT_EQ(scale["spec"]["replicas"], 3);
  scale["spec"]["replicas"] = 50;
  try {
    client.update(sg, ns, scale, putScale);
    ADD_FAILURE() << "a PUT of /scale to 50 was admitted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
  // Below minSize too.
  std::tie(code, out) = kubectl({"scale", "-n", ns, "scalinggroup/web", "--replicas=1"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("spec.replicas: Invalid value: 1: must be greater than or equal to "
                     "spec.minSize (2)"),
            std::string::npos)
      << out;
  // And through the main resource, in the same words but its own field.
  std::tie(code, out) = kubectl({"patch", "-n", ns, "scalinggroup/web", "--type=merge", "-p",
                                 R"({"spec":{"desiredCapacity":50}})"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("spec.desiredCapacity: Invalid value: 50: must be less than or equal to "
                     "spec.maxSize (12)"),
            std::string::npos)
      << out;
  EXPECT_EQ(desiredCapacity(client, ns), 3);

  // Within the bounds, every path works.
  std::tie(code, out) = kubectl({"scale", "-n", ns, "scalinggroup/web", "--replicas=7"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(desiredCapacity(client, ns), 7);
  client.patch(sg, ns, "web", PatchType::Merge, {{"spec", {{"replicas", 8}}}}, patchScale);
  EXPECT_EQ(desiredCapacity(client, ns), 8);
  // Read, change, write, as the HPA controller does: the operator writes the
  // group's status meanwhile, so a stale read is a 409 to read again.
  for (int attempt = 0;; ++attempt) {
    scale = client.get(sg, ns, "web", "scale");
    scale["spec"]["replicas"] = 12;
    try {
      client.update(sg, ns, scale, putScale);
      break;
    } catch (const ApiError& e) {
      if (!e.isConflict() || attempt == 10) throw;
    }
  }
  EXPECT_EQ(desiredCapacity(client, ns), 12);
  // Raising maxSize lets a scale past the old bound through at once (the
  // webhook confirms a refusal against the API server, not only its cache).
  std::tie(code, out) = kubectl(
      {"patch", "-n", ns, "scalinggroup/web", "--type=merge", "-p", R"({"spec":{"maxSize":60}})"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = kubectl({"scale", "-n", ns, "scalinggroup/web", "--replicas=50"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(desiredCapacity(client, ns), 50);
}

// A real HorizontalPodAutoscaler (kube-controller-manager's
// horizontalpodautoscaling controller, started for this binary): below its
// minReplicas it scales the target to minReplicas without metrics, with a
// PUT of /scale. Past the group's maxSize that write is refused, and the
// HPA reports the webhook's words in a FailedRescale event; within the
// bounds it scales the group.
TEST_F(Webhook, AHorizontalPodAutoscalerIsHeldToTheGroupsBounds) {
  const std::string ns = createNamespace(client, "hpa");
  createBoundedGroup(ns);
  const Resource kHpa{"autoscaling", "v1", "horizontalpodautoscalers", true,
                      "HorizontalPodAutoscaler"};
  const Resource kEvents{"", "v1", "events", true, "Event"};
  json hpa = {
      {"apiVersion", "autoscaling/v1"},
      {"kind", "HorizontalPodAutoscaler"},
      {"metadata", {{"name", "web"}}},
      {"spec",
       {{"scaleTargetRef",
         {{"apiVersion", "compute.kubec2.io/v1alpha1"}, {"kind", "ScalingGroup"}, {"name", "web"}}},
        {"minReplicas", 20},
        {"maxReplicas", 30},
        {"targetCPUUtilizationPercentage", 50}}}};
  client.create(kHpa, ns, hpa);
  std::string message;
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& e : client.list(kEvents, ns).items)
          if (e.value("reason", "") == "FailedRescale") message = e.value("message", "");
        return !message.empty();
      },
      120s))
      << "no FailedRescale event from the HPA controller";
  EXPECT_NE(message.find("spec.replicas: Invalid value: 20: must be less than or equal to "
                         "spec.maxSize (12)"),
            std::string::npos)
      << message;
  EXPECT_EQ(desiredCapacity(client, ns), 3);

  hpa = client.get(kHpa, ns, "web");
  hpa["spec"]["minReplicas"] = 5;
  hpa["spec"]["maxReplicas"] = 10;
  client.update(kHpa, ns, hpa);
  EXPECT_TRUE(eventually([&] { return desiredCapacity(client, ns) == 5; }, 120s))
      << "the HPA did not scale the group to its minReplicas 5: spec.desiredCapacity is "
      << desiredCapacity(client, ns);
}

// A GitOps tool re-applies deploy/base/webhook.yaml, which has no caBundle: the
// operator writes it back (here within its --webhook-ca-sync-seconds of 1),
// and the webhook is called again.
TEST_F(Webhook, ConfigurationReappliedWithoutCaBundleIsRepaired) {
  const Resource kSecrets{"", "v1", "secrets", true, "Secret"};
  const std::string ca =
      client.get(kSecrets, WebhookEnvironment::kNamespace, "kubec2-webhook-tls")["data"]["ca.crt"];
  json config = client.get(kValidating, "", WebhookEnvironment::kConfigName);
  for (auto& w : config["webhooks"]) w["clientConfig"].erase("caBundle");
  client.update(kValidating, "", config);
  ASSERT_FALSE(
      client.get(kValidating, "", WebhookEnvironment::kConfigName)["webhooks"][0]["clientConfig"]
          .contains("caBundle"));

  EXPECT_TRUE(eventually(
      [&] {
        const json c = client.get(kValidating, "", WebhookEnvironment::kConfigName);
        for (const auto& w : c["webhooks"])
          if (w["clientConfig"].value("caBundle", "") != ca) return false;
        return true;
      },
      30s));
  const std::string ns = createNamespace(client, "repaired");
  // The API server reloads configurations asynchronously: wait for a refusal by the webhook.
  std::string out;
  EXPECT_TRUE(eventually(
      [&] {
        const double before = WebhookEnvironment::get().deniedReviews();
        out =
            kubectl({"apply", "-n", ns, "-f", writeManifest(invalidScalingGroup("again"))}).second;
        return WebhookEnvironment::get().deniedReviews() > before;
      },
      30s))
      << out;
  EXPECT_NE(out.find("spec.minSize: Invalid value: 5"), std::string::npos) << out;
}

// --webhook-cert-source files, as with a cert-manager Certificate mounted
// into the pod: the operator serves the files' certificate and picks up a
// rotated one on the next connection, without a restart.
TEST_F(Webhook, CertManagerFilesAreServedAndRotatedWithoutARestart) {
  namespace fs = std::filesystem;
  const std::string dir = ControlPlaneEnvironment::get().dir() + "/cert-manager";
  fs::create_directories(dir);
  auto install = [&](const kubec2::webhook::SelfSignedCerts& c) {
    // As kubelet updates a mounted Secret: new files, then one rename each.
    for (const auto& [name, pem] :
         {std::pair{"tls.crt", c.serving.certPem}, std::pair{"tls.key", c.serving.keyPem}}) {
      std::ofstream(dir + "/." + name) << pem;
      fs::rename(dir + "/." + name, dir + "/" + name);
    }
  };
  const auto first =
      kubec2::webhook::generateSelfSigned({"127.0.0.1"}, std::chrono::system_clock::now());
  install(first);

  const int port = freePort();
  ChildProcess op({KUBEC2_OPERATOR_BIN, "--kubeconfig", ControlPlaneEnvironment::get().kubeconfig(),
                   "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
                   "--webhook-bind-address", "127.0.0.1:" + std::to_string(port),
                   "--webhook-cert-source", "files", "--webhook-cert-dir", dir},
                  ControlPlaneEnvironment::get().dir() + "/operator-cert-files.log");
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/validate";
  const std::string body = review(invalidScalingGroup("files")).dump();
  HttpReply r;
  EXPECT_TRUE(eventually(
      [&] {
        r = post(url, body, first.caPem);
        return r.status == 200;
      },
      30s))
      << r.error << "\n"
      << op.output();
  EXPECT_NE(r.body.find("\"allowed\":false"), std::string::npos) << r.body;

  // Rotated: a client trusting only the new CA gets through, one trusting
  // only the old CA no longer does.
  const auto second =
      kubec2::webhook::generateSelfSigned({"127.0.0.1"}, std::chrono::system_clock::now());
  install(second);
  EXPECT_TRUE(eventually([&] { return post(url, body, second.caPem).status == 200; }, 30s));
  r = post(url, body, first.caPem);
  EXPECT_FALSE(r.error.empty()) << "still served the old certificate: " << r.status;
  op.signal(SIGTERM);
  op.wait(30s);
}

}  // namespace
}  // namespace kube::testing
