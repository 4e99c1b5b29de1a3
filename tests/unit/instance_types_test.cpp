// The instance type catalog: EC2's figures, and ConfigMap overrides.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reconcilers/instance/instance_types.h"

namespace {

using kubec2::reconcilers::InstanceTypeCatalog;
using kubec2::reconcilers::InstanceTypeInfo;

struct TypeCase {
  const char* name;
  std::int64_t vCPU;
  std::int64_t memoryMiB;
  std::int64_t gpus;
};

class InstanceTypeBuiltIn : public ::testing::TestWithParam<TypeCase> {};

TEST_P(InstanceTypeBuiltIn, HasEc2Figures) {
  const TypeCase& c = GetParam();
  const InstanceTypeInfo* t = InstanceTypeCatalog::builtIn().find(c.name);
  ASSERT_NE(t, nullptr) << c.name;
  EXPECT_EQ(t->name, c.name);
  EXPECT_EQ(t->vCPU, c.vCPU) << c.name;
  EXPECT_EQ(t->memoryMiB, c.memoryMiB) << c.name;
  EXPECT_EQ(t->gpus, c.gpus) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    InstanceType, InstanceTypeBuiltIn,
    ::testing::Values(TypeCase{"t3.nano", 2, 512, 0}, TypeCase{"t3.micro", 2, 1024, 0},
                      TypeCase{"t3.2xlarge", 8, 32768, 0}, TypeCase{"m5.large", 2, 8192, 0},
                      TypeCase{"m5.xlarge", 4, 16384, 0}, TypeCase{"m5.12xlarge", 48, 196608, 0},
                      TypeCase{"m5.24xlarge", 96, 393216, 0}, TypeCase{"m6i.large", 2, 8192, 0},
                      TypeCase{"c5.large", 2, 4096, 0}, TypeCase{"c5.9xlarge", 36, 73728, 0},
                      TypeCase{"c5.18xlarge", 72, 147456, 0}, TypeCase{"c6i.8xlarge", 32, 65536, 0},
                      TypeCase{"c6i.32xlarge", 128, 262144, 0}, TypeCase{"r5.large", 2, 16384, 0},
                      TypeCase{"r5.2xlarge", 8, 65536, 0}, TypeCase{"r6i.24xlarge", 96, 786432, 0},
                      TypeCase{"i3.large", 2, 15616, 0}, TypeCase{"i3.16xlarge", 64, 499712, 0},
                      TypeCase{"g5.xlarge", 4, 16384, 1}, TypeCase{"g5.12xlarge", 48, 196608, 4},
                      TypeCase{"g5.48xlarge", 192, 786432, 8}),
    [](const auto& p) {
      std::string n = p.param.name;
      for (char& ch : n)
        if (ch == '.') ch = '_';
      return n;
    });

TEST(InstanceTypeCatalog, UnknownTypesAreNotFound) {
  const auto& c = InstanceTypeCatalog::builtIn();
  EXPECT_EQ(c.find("m5.huge"), nullptr);
  EXPECT_EQ(c.find("c5.8xlarge"), nullptr);  // EC2 has no c5.8xlarge
  EXPECT_EQ(c.find(""), nullptr);
  EXPECT_GT(c.size(), 70u);
}

TEST(InstanceTypeCatalog, EveryBuiltInTypeIsSane) {
  // Every family's sizes grow in memory with vCPU, and memory per vCPU is
  // the family's: a typo in the table shows here.
  for (const char* name :
       {"m5.large", "m5.4xlarge", "m6i.32xlarge", "r5.16xlarge", "c6i.16xlarge"}) {
    const InstanceTypeInfo* t = InstanceTypeCatalog::builtIn().find(name);
    ASSERT_NE(t, nullptr) << name;
    const std::int64_t perVcpu = t->memoryMiB / t->vCPU;
    const char f = name[0];
    EXPECT_EQ(perVcpu, f == 'm' ? 4096 : f == 'r' ? 8192 : 2048) << name;
  }
}

TEST(InstanceTypeOverrides, AddsAndOverridesTypes) {
  std::vector<std::string> problems;
  const auto c = InstanceTypeCatalog::builtIn().withOverrides(
      {{"x1.small", "{vCPU: 1, memory: 1536Mi}"},
       {"t3.micro", "memory: 2Gi"},  // only memory: keeps 2 vCPU
       {"gpu.big", "{\"vCPU\": 16, \"memory\": \"64Gi\", \"gpus\": 2}"},
       {"m5.large", "vCPU: 4\nmemory: 8G\n"}},
      problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(*c.find("x1.small"), (InstanceTypeInfo{"x1.small", 1, 1536, 0}));
  EXPECT_EQ(*c.find("t3.micro"), (InstanceTypeInfo{"t3.micro", 2, 2048, 0}));
  EXPECT_EQ(*c.find("gpu.big"), (InstanceTypeInfo{"gpu.big", 16, 65536, 2}));
  // 8G = 8e9 bytes = 7629.39 MiB, rounded down.
  EXPECT_EQ(*c.find("m5.large"), (InstanceTypeInfo{"m5.large", 4, 7629, 0}));
  EXPECT_EQ(c.size(), InstanceTypeCatalog::builtIn().size() + 2);
  // The built-in catalog is unchanged.
  EXPECT_EQ(InstanceTypeCatalog::builtIn().find("t3.micro")->memoryMiB, 1024);
}

// Families in name order, each from its smallest size up, as EC2 lists
// them; an added type takes its place by size.
TEST(InstanceTypeCatalog, NamesBySizeGroupFamiliesSmallestFirst) {
  std::vector<std::string> problems;
  const auto c = InstanceTypeCatalog::builtIn().withOverrides(
      {{"m5.medium", "{vCPU: 1, memory: 4Gi}"}, {"a1.one", "{vCPU: 1, memory: 1Gi}"}}, problems);
  const std::vector<std::string> names = c.namesBySize();
  ASSERT_EQ(names.size(), c.size());
  EXPECT_EQ(names.front(), "a1.one");
  const auto m5 = std::find(names.begin(), names.end(), "m5.medium");
  ASSERT_NE(m5, names.end());
  EXPECT_EQ(std::vector<std::string>(m5, m5 + 10),
            (std::vector<std::string>{"m5.medium", "m5.large", "m5.xlarge", "m5.2xlarge",
                                      "m5.4xlarge", "m5.8xlarge", "m5.12xlarge", "m5.16xlarge",
                                      "m5.24xlarge", "m6i.large"}));
}

struct QuantityCase {
  const char* memory;
  std::int64_t mib;
};

class InstanceTypeQuantity : public ::testing::TestWithParam<QuantityCase> {};

TEST_P(InstanceTypeQuantity, ParsesMemory) {
  std::vector<std::string> problems;
  const auto c = InstanceTypeCatalog::builtIn().withOverrides(
      {{"q.test", std::string("{vCPU: 2, memory: ") + GetParam().memory + "}"}}, problems);
  ASSERT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(c.find("q.test")->memoryMiB, GetParam().mib) << GetParam().memory;
}

INSTANTIATE_TEST_SUITE_P(
    InstanceType, InstanceTypeQuantity,
    ::testing::Values(QuantityCase{"1048576Ki", 1024}, QuantityCase{"512Mi", 512},
                      QuantityCase{"4Gi", 4096}, QuantityCase{"1.5Gi", 1536},
                      QuantityCase{"1Ti", 1048576}, QuantityCase{"2097152K", 2000},
                      QuantityCase{"2000k", 1}, QuantityCase{"1000M", 953}, QuantityCase{"1G", 953},
                      QuantityCase{"1T", 953674}, QuantityCase{"1073741824", 1024},
                      QuantityCase{"\"2Gi\"", 2048}));

struct BadCase {
  const char* name;
  const char* value;
  const char* problem;  // the start of the problem
};

class InstanceTypeBadOverride : public ::testing::TestWithParam<BadCase> {};

TEST_P(InstanceTypeBadOverride, IsSkippedAndReported) {
  const BadCase& b = GetParam();
  std::vector<std::string> problems;
  const auto c = InstanceTypeCatalog::builtIn().withOverrides(
      {{b.name, b.value}, {"ok.type", "{vCPU: 1, memory: 1Gi}"}}, problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind(b.problem, 0), 0u) << problems[0];
  EXPECT_NE(c.find("ok.type"), nullptr);  // other entries still apply
  if (std::string(b.name) == "t3.micro") {
    EXPECT_EQ(c.find("t3.micro")->memoryMiB, 1024);  // built-in kept
  } else {
    EXPECT_EQ(c.find(b.name), nullptr);
  }
}

INSTANTIATE_TEST_SUITE_P(
    InstanceType, InstanceTypeBadOverride,
    ::testing::Values(
        BadCase{"Big.Type", "{vCPU: 1, memory: 1Gi}", "Big.Type: not an instance type name"},
        BadCase{"nodot", "{vCPU: 1, memory: 1Gi}", "nodot: not an instance type name"},
        BadCase{"1x.large", "{vCPU: 1, memory: 1Gi}", "1x.large: not an instance type name"},
        BadCase{"m9.huge", "{vCPU: 1, memory: lots}",
                "m9.huge: memory: \"lots\" is not a quantity"},
        BadCase{"m9.huge", "{vCPU: 1, memory: 4Xi}", "m9.huge: memory: \"4Xi\" is not a quantity"},
        BadCase{"m9.huge", "{vCPU: 1, memory: 16384}", "m9.huge: memory: 16384 is less than 1Mi"},
        BadCase{"m9.huge", "{vCPU: 1, memory: [1]}", "m9.huge: memory: must be a quantity"},
        BadCase{"m9.huge", "{vCPU: 0, memory: 1Gi}", "m9.huge: vCPU: must be 1 to 1024"},
        BadCase{"m9.huge", "{vCPU: two, memory: 1Gi}", "m9.huge: vCPU: must be a whole number"},
        BadCase{"m9.huge", "{vCPU: 1.5, memory: 1Gi}", "m9.huge: vCPU: must be a whole number"},
        BadCase{"m9.huge", "{memory: 1Gi}", "m9.huge: vCPU: required for a new type"},
        BadCase{"m9.huge", "{vCPU: 2}", "m9.huge: memory: required for a new type"},
        BadCase{"m9.huge", "{vCPU: 2, memory: 1Gi, gpus: -1}", "m9.huge: gpus: must be 0 to 64"},
        BadCase{"t3.micro", "{memroy: 2Gi}", "t3.micro: memroy: unknown field"},
        BadCase{"t3.micro", "[1, 2]", "t3.micro: must be one mapping"},
        BadCase{"t3.micro", "", "t3.micro: must be one mapping"},
        BadCase{"t3.micro", "{vCPU: [", "t3.micro: not valid YAML"}));

}  // namespace
