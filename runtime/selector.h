// Kubernetes label selectors: the string form used by kubectl and by the
// labelSelector query parameter (a=b, a==b, a!=b, a in (x,y), a notin (x), a,
// !a), and metav1.LabelSelector (matchLabels + matchExpressions).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

class LabelSelector {
 public:
  // a=b is In with one value and a!=b is NotIn with one value: Kubernetes gives
  // them the same meaning (a!=b also matches objects without the label).
  enum class Op { In, NotIn, Exists, DoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;  // sorted, no duplicates; empty for Exists/DoesNotExist
  };

  // Parses the string form. Keys and values are checked against the
  // Kubernetes label rules. Throws std::invalid_argument naming the selector,
  // the cause and the position, e.g.
  //   label selector "a in x": expected '(' after 'in' at position 5
  static LabelSelector parse(std::string_view text);

  // From a metav1.LabelSelector object. null or {} give the empty selector,
  // which matches everything (callers for which a null selector means
  // "nothing", as in a PodDisruptionBudget, must check for null themselves).
  // Throws std::invalid_argument naming the field at fault.
  static LabelSelector fromJson(const nlohmann::json& sel);

  bool matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

  // The string form, requirements sorted by key as Kubernetes prints them, so
  // equal selectors give equal strings; parse(toString()) gives the selector back.
  std::string toString() const;

 private:
  void add(Requirement r);  // keeps reqs_ sorted by key
  std::vector<Requirement> reqs_;
};

// Kubernetes label syntax checks, for callers validating labels they set.
// Each returns an empty string when valid, else the reason.
std::string labelKeyError(std::string_view key);
std::string labelValueError(std::string_view value);

}  // namespace kube
