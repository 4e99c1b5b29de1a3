#include "runtime/quantity.h"

#include <cmath>
#include <map>

namespace kube {

std::optional<double> parseQuantity(const std::string& q) {
  if (q.empty()) return std::nullopt;
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(q, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string suffix = q.substr(used);
  static const std::map<std::string, double> kSuffix = {{"", 1},
                                                        {"m", 1e-3},
                                                        {"k", 1e3},
                                                        {"M", 1e6},
                                                        {"G", 1e9},
                                                        {"T", 1e12},
                                                        {"P", 1e15},
                                                        {"E", 1e18},
                                                        {"Ki", 1024.0},
                                                        {"Mi", 1048576.0},
                                                        {"Gi", 1073741824.0},
                                                        {"Ti", 1099511627776.0},
                                                        {"Pi", 1125899906842624.0},
                                                        {"Ei", 1152921504606846976.0}};
  auto it = kSuffix.find(suffix);
  if (it == kSuffix.end() || !std::isfinite(v)) return std::nullopt;
  return v * it->second;
}

}  // namespace kube
