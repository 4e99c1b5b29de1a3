#include "runtime/yaml.h"

#include <cctype>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace kube {
namespace {

nlohmann::json scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
  const unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (std::isdigit(c0) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s.size() > 1)) {
    try {
      size_t used = 0;
      const long long i = std::stoll(s, &used, 10);
      if (used == s.size()) return i;
      const double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::exception&) {  // out of range or not a number: a string
    }
  }
  return s;
}

nlohmann::json convert(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(convert(e));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = convert(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar:
      return scalar(n);
    default:
      return nullptr;
  }
}

}  // namespace

std::vector<nlohmann::json> parseYamlDocuments(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(std::string("not valid YAML: ") + e.what());
  }
  std::vector<nlohmann::json> out;
  for (const auto& d : docs)
    if (d.IsDefined() && !d.IsNull()) out.push_back(convert(d));
  return out;
}

}  // namespace kube
