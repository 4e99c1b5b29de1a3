// RFC 6901 JSON pointers ("/spec/template/metadata/labels/compute.kubec2.io~1instance"):
// the one implementation the fake API, managedFields and the applied-
// configuration checks share.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

// Splits and escapes pointers ("/a/b~1c" <-> {"a", "b/c"}); "" is the root.
std::vector<std::string> pointerTokens(const std::string& pointer);
std::string pointerOf(const std::vector<std::string>& tokens);

// The value at `pointer` (object members, and array elements by index), or
// nullptr when any step is missing.
const nlohmann::json* valueAt(const nlohmann::json& j, const std::string& pointer);
// Sets the value at `pointer`, making the objects on the way (an array on
// the way is not extended: a step past its end does nothing).
void setValueAt(nlohmann::json& j, const std::string& pointer, const nlohmann::json& value);
// Removes the object member `pointer` names; nothing when it is absent or
// names an array element.
void eraseValueAt(nlohmann::json& j, const std::string& pointer);

// The pointers of every leaf of `j`: scalars, nulls, lists (a list is one
// value, as in a CRD without list-type markers) and empty objects, each
// prefixed with `prefix`.
void leafPointers(const nlohmann::json& j, const std::string& prefix, std::set<std::string>& out);

}  // namespace kube
