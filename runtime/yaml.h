// YAML text -> JSON values, for manifests (kubectl's files) and tests. One
// JSON value per YAML document; empty documents are skipped.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

// Plain scalars follow YAML 1.2's core schema as Kubernetes reads it:
// true/false, null and ~, integers and floats become JSON booleans, null
// and numbers; quoted scalars always stay strings. Throws
// std::invalid_argument naming the line for text that is not YAML.
std::vector<nlohmann::json> parseYamlDocuments(const std::string& text);

}  // namespace kube
