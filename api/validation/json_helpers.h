// Reading JSON of any shape without throwing, and writing JSON Patch
// operations, for the defaults and warnings that work on the raw object
// (a default is added only where the user's JSON has no value, which a
// decoded struct cannot tell from a value of the wrong shape).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::api::validation {

// Member `key` of `object`, or nullptr when `object` is not an object or
// has no such member.
const nlohmann::json* member(const nlohmann::json& object, const char* key);
// The string at member `key`, or nullptr when absent or not a string.
const std::string* stringMember(const nlohmann::json& object, const char* key);
// Whether `object` (an object) lacks `key` or has it null.
bool absent(const nlohmann::json& object, const char* key);
// metadata.<key> of an object as a string; empty when missing.
std::string metadataString(const nlohmann::json& object, const char* key);
// {"op": "add", "path": "/a/b", "value": value} for the path tokens
// {"a", "b"}, escaped as RFC 6901 requires (~ and /; kube::pointerOf).
nlohmann::json addOp(const std::vector<std::string>& tokens, nlohmann::json value);

}  // namespace kubec2::api::validation
