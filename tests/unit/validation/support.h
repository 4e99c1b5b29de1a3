// What the validation tests share: a minimal valid object per kind, ways to
// change one thing in it, the calls of api/validation.h with a fake time
// zone database, and the tables of refused and admitted objects that each
// kind's test file fills (INSTANTIATE_TEST_SUITE_P with ValidationRefused
// and ValidationAdmitted; the test bodies are in support.cpp).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/validation.h"

namespace kubec2::api::vtest {

using json = nlohmann::json;
using Type = FieldError::Type;

// Every time zone exists but this one, so that no test depends on the
// machine's tzdata (except those that test the zoneinfo lookup itself).
inline constexpr const char* kUnknownZone = "Mars/Olympus";
bool fakeZones(const std::string& name);

// Minimal valid objects, named web in namespace shop.
json objectOf(const char* kind, json spec);
json scalingGroup();  // minSize 1, maxSize 5, launch template web
json launchSpec();    // a containerDisk image, t3.micro
json instance();
json instanceWithVolumes();  // a registry image with a 20 GiB root and a 100 GiB extra volume
json launchTemplate();       // one version of launchSpec()
json loadBalancer();         // application, HTTP :80 to target group web
json networkLoadBalancer();  // the same with one TCP listener

// `base` with each JSON pointer set to its value (missing objects are created).
json with(json base, std::initializer_list<std::pair<std::string, json>> changes);
json without(json base, const std::string& pointer);

// ScalingGroup pieces.
json cpuTarget();
json customTarget(const std::string& query);
json targetTrackingPolicy(json config);
json step(std::optional<double> lower, std::optional<double> upper, int adjustment);
json stepScaling();  // CPU above 80: +1 from 80 to 90, +2 from 90
json stepPolicy();
json withPolicy(json policy);
json withStepScaling(std::initializer_list<std::pair<std::string, json>> changes);
json action();  // recurring at 08:00, minSize 2
json withAction(json a);
json withActionChanged(std::initializer_list<std::pair<std::string, json>> changes);

// Instance pieces: one security group rule, and one with a selector source.
json withRule(json ingress);
json withSelector(json expression);

// LoadBalancer pieces.
json withListener(json lb, json listener);
json httpsListener();

// [[[...[]...]]], `depth` arrays deep, built without recursion.
json nestedArrays(size_t depth);
// Every position of `j`, as a JSON pointer.
void allPointers(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out);
// Every document of examples/*.yaml.
std::vector<json> exampleDocuments();

// validate() of a CREATE, and of an UPDATE from `old`, with fakeZones.
std::vector<FieldError> create(const json& object);
std::vector<FieldError> update(const json& old, const json& object);

// For failure output: what validate() said.
std::string messages(const std::vector<FieldError>& errs);
// The one error validate() returns, with the field, type and words expected.
void expectOneError(const std::vector<FieldError>& errs, const std::string& field, Type type,
                    const std::string& words);

// A refused object (on create, or on update from `old` when it is set).
struct Refused {
  std::string name;
  json object;
  json old;
  std::string field;
  Type type;
  std::string words;  // a distinctive part of FieldError::message()
};
void PrintTo(const Refused& c, std::ostream* os);
Refused refused(std::string name, json object, std::string field, Type type, std::string words);
Refused refusedUpdate(std::string name, json old, json object, std::string field, Type type,
                      std::string words);

struct Admitted {
  std::string name;
  json object;
  json old;
};
void PrintTo(const Admitted& c, std::ostream* os);
Admitted admitted(std::string name, json object);
Admitted admittedUpdate(std::string name, json old, json object);

class ValidationRefused : public testing::TestWithParam<Refused> {};
class ValidationAdmitted : public testing::TestWithParam<Admitted> {};

template <typename Case>
std::string caseName(const testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

}  // namespace kubec2::api::vtest
