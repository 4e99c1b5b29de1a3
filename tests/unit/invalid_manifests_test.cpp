// The webhook's half of tests/integration/testdata/invalid-manifests.yaml,
// run through api::validate() directly: the integration test proves the API
// server refuses each case, this one pins each refusal to the rule in
// api/validation/ and runs in milliseconds.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "api/validation.h"
#include "runtime/yaml.h"

namespace kubec2::api {
namespace {

using nlohmann::json;

json invalidManifestCases() {
  std::ifstream in(std::string(KUBEC2_SOURCE_DIR) +
                   "/tests/integration/testdata/invalid-manifests.yaml");
  std::stringstream text;
  text << in.rdbuf();
  const auto docs = kube::parseYamlDocuments(text.str());
  if (docs.size() != 1 || !docs[0].is_array())
    throw std::runtime_error("invalid-manifests.yaml must be one YAML list");
  return docs[0];
}

// The admission request the API server would send for a case: a delete or an
// update of the `before` object of the same kind and name, else a create.
AdmissionInput admissionOf(const json& c) {
  const json& m = c.at("manifest");
  AdmissionInput in;
  in.kind = m.at("kind");
  in.object = m;
  in.object["metadata"]["namespace"] = "team-a";
  for (const json& b : c.value("before", json::array()))
    if (b.at("kind") == m.at("kind") &&
        b.at("metadata").at("name") == m.at("metadata").at("name")) {
      in.operation = Operation::Update;
      in.oldObject = b;
      in.oldObject["metadata"]["namespace"] = "team-a";
    }
  if (c.value("action", "apply") == "delete") {
    in.operation = Operation::Delete;
    in.object = nullptr;
  }
  return in;
}

TEST(InvalidManifests, TheTableHasAtLeastThirtyCasesFromBothSchemaAndWebhook) {
  const json cases = invalidManifestCases();
  int webhook = 0, schema = 0;
  for (const json& c : cases) (c.at("by") == "webhook" ? webhook : schema)++;
  EXPECT_GE(webhook + schema, 30);
  EXPECT_GE(webhook, 15);
  EXPECT_GE(schema, 10);
}

TEST(InvalidManifests, EveryWebhookCaseIsRefusedByValidateWithItsFieldAndRule) {
  for (const json& c : invalidManifestCases()) {
    if (c.at("by") != "webhook") continue;
    SCOPED_TRACE(c.at("name").get<std::string>());
    const AdmissionInput in = admissionOf(c);
    const auto errors = validate(in);
    ASSERT_FALSE(errors.empty()) << "admitted";
    const std::string message =
        invalidMessage(in.kind, c.at("manifest").at("metadata").at("name"), errors);
    for (const json& want : c.at("expect"))
      EXPECT_NE(message.find(want.get<std::string>()), std::string::npos)
          << "missing \"" << want.get<std::string>() << "\" in: " << message;
  }
}

// The `before` manifests set the scene and must themselves be admitted, or
// a case could pass for the wrong reason.
TEST(InvalidManifests, EveryBeforeManifestIsAdmitted) {
  for (const json& c : invalidManifestCases()) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    for (json b : c.value("before", json::array())) {
      b["metadata"]["namespace"] = "team-a";
      const auto errors = validate({b.at("kind"), Operation::Create, b, nullptr});
      EXPECT_TRUE(errors.empty()) << invalidMessage(b.at("kind"), "", errors);
    }
  }
}

}  // namespace
}  // namespace kubec2::api
