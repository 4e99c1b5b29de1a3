// The webhook certificate keeper over the in-memory API: the Secret is made
// once and shared, the CA reaches both configurations, a caBundle reset by a
// re-apply is written back, and missing configurations are looked for soon.
#include "controllers/webhook/cert_keeper.h"

#include <gtest/gtest.h>

#include "runtime/base64.h"
#include "runtime/fake_client.h"

namespace kubec2::webhook {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const kube::Resource kSecrets{"", "v1", "secrets", true, "Secret"};
const kube::Resource kValidating{"admissionregistration.k8s.io", "v1",
                                 "validatingwebhookconfigurations", false,
                                 "ValidatingWebhookConfiguration"};
const kube::Resource kMutating{"admissionregistration.k8s.io", "v1",
                               "mutatingwebhookconfigurations", false,
                               "MutatingWebhookConfiguration"};

json configuration(const std::string& kind) {
  return {
      {"apiVersion", "admissionregistration.k8s.io/v1"},
      {"kind", kind},
      {"metadata", {{"name", "kubec2"}}},
      {"webhooks", {{{"name", "v.compute.kubec2.io"}, {"clientConfig", {{"url", "https://x"}}}}}}};
}

// When a sync asks to be run again.
kube::Clock::duration nextIn(const kube::Next& n, const CertKeeperOptions& o) {
  return n.kind == kube::Next::Kind::After ? n.delay : kube::Clock::duration(o.period);
}

std::string caBundleOf(kube::FakeClient& api, const kube::Resource& r) {
  return (*api.object(r, "", "kubec2"))["webhooks"][0]["clientConfig"].value("caBundle", "");
}

class CertKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.serve(kSecrets, {.statusSubresource = false});
    api.serve(kValidating, {.statusSubresource = false});
    api.serve(kMutating, {.statusSubresource = false});
  }
  CertKeeperOptions options() {
    CertKeeperOptions o;
    o.secretNamespace = "kubec2-system";
    o.secretName = "kubec2-webhook-tls";
    o.hosts = {"kubec2-webhook.kubec2-system.svc"};
    o.configurationName = "kubec2";
    o.period = 60s;
    o.whileMissing = 5s;
    return o;
  }
  kube::FakeClient api;
};

TEST_F(CertKeeperTest, MakesTheSecretOnceAndReplicasShareIt) {
  CertKeeper first(api, options());
  first.load();
  const auto secret = api.object(kSecrets, "kubec2-system", "kubec2-webhook-tls");
  ASSERT_TRUE(secret);
  EXPECT_EQ((*secret)["type"], "kubernetes.io/tls");
  CertKeeper second(api, options());
  second.load();
  EXPECT_EQ(first.caPem(), second.caPem()) << "a second replica serves the same certificate";
  EXPECT_EQ(first.serving().certPem, second.serving().certPem);
  EXPECT_EQ(api.writes("create", "secrets"), 1);
}

TEST_F(CertKeeperTest, WritesTheCaIntoBothConfigurationsAndRepairsAReset) {
  CertKeeper keeper(api, options());
  // Neither configuration yet (applied later by Helm or GitOps): soon again.
  EXPECT_EQ(nextIn(keeper.sync(), keeper.options()), kube::Clock::duration(5s));
  api.create(kValidating, "", configuration("ValidatingWebhookConfiguration"));
  api.create(kMutating, "", configuration("MutatingWebhookConfiguration"));
  EXPECT_EQ(nextIn(keeper.sync(), keeper.options()), kube::Clock::duration(60s));
  const std::string ca = kube::base64Encode(keeper.caPem());
  EXPECT_EQ(caBundleOf(api, kValidating), ca);
  EXPECT_EQ(caBundleOf(api, kMutating), ca);
  // A re-apply without the caBundle (kubectl apply of the shipped file).
  api.patch(kValidating, "", "kubec2", kube::PatchType::Json,
            json::array({{{"op", "remove"}, {"path", "/webhooks/0/clientConfig/caBundle"}}}));
  EXPECT_EQ(caBundleOf(api, kValidating), "");
  keeper.sync();
  EXPECT_EQ(caBundleOf(api, kValidating), ca);
  // Nothing to repair: nothing written.
  const int patches = api.writes("patch");
  const int updates = api.writes("update");
  keeper.sync();
  EXPECT_EQ(api.writes("patch"), patches);
  EXPECT_EQ(api.writes("update"), updates);
}

TEST_F(CertKeeperTest, ServesNothingBeforeItHasLoaded) {
  CertKeeper keeper(api, options());
  EXPECT_THROW(keeper.serving(), std::logic_error);
}

}  // namespace
}  // namespace kubec2::webhook
