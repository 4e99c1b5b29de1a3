#include "runtime/yaml.h"

#include <gtest/gtest.h>

namespace kube {
namespace {

TEST(ParseYamlDocuments, ScalarsFollowTheCoreSchemaAndQuotesKeepStrings) {
  auto docs = parseYamlDocuments(
      "a: 1\nb: -2.5\nc: true\nd: null\ne: \"1\"\nf: 'true'\ng: t3.micro\nh: 0.0.0.0/0\n"
      "i: ~\nj: [x, 2]\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], nlohmann::json::parse(R"({"a":1,"b":-2.5,"c":true,"d":null,"e":"1",
      "f":"true","g":"t3.micro","h":"0.0.0.0/0","i":null,"j":["x",2]})"));
}

TEST(ParseYamlDocuments, SeveralDocumentsAndEmptyOnesSkipped) {
  auto docs = parseYamlDocuments("---\nkind: A\n---\n---\nkind: B\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1]["kind"], "B");
}

TEST(ParseYamlDocuments, BrokenYamlIsAnErrorNamingTheLine) {
  try {
    parseYamlDocuments("a: [1, 2\nb: c\n");
    FAIL() << "broken YAML accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("line"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kube
