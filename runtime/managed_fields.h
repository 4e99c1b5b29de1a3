// metadata.managedFields: which field manager owns which field of an object,
// as server-side apply records it (FieldsV1). What lets a controller tell
// its own writes from somebody else's: "spec.runStrategy was last set by
// kubectl-edit" rather than a guess.
//
// Paths here are RFC 6901 JSON pointers ("/spec/template/metadata/labels/
// compute.kubec2.io~1instance"). FieldsV1 names object members "f:NAME";
// list items ("k:{...}", "v:...", "i:N") end a path: this reader treats a
// list as one field, as a CRD without list-type markers does.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

struct ManagedFieldsEntry {
  std::string manager;    // "kubec2-instance", "kubectl-edit", ...
  std::string operation;  // Apply or Update
  std::string subresource;
  nlohmann::json fieldsV1;
};

// The entries of metadata.managedFields; none when absent or malformed.
std::vector<ManagedFieldsEntry> managedFieldsOf(const nlohmann::json& obj);

// The managers that own `pointer` or a field above it (a map or list set as
// a whole), in the order of managedFields.
std::vector<std::string> managersOf(const nlohmann::json& obj, const std::string& pointer);

// FieldsV1 of a set of owned paths (the writer's side, for the fake API).
nlohmann::json fieldsV1Of(const std::set<std::string>& pointers);

}  // namespace kube
