// Kubernetes label selectors: the string form (a=b, a!=b, a in (x,y),
// a notin (x), a, !a) and metav1.LabelSelector (matchLabels, matchExpressions).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

class LabelSelector {
 public:
  enum class Op { In, NotIn, Exists, DoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  // Throws std::invalid_argument naming the selector and the position at fault.
  static LabelSelector parse(std::string_view text);
  static LabelSelector fromJson(const nlohmann::json& sel);

  bool matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return reqs_.empty(); }
  std::string toString() const;

 private:
  std::vector<Requirement> reqs_;
};

}  // namespace kube
