#include "reconcilers/instance/instance_types.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "runtime/yaml.h"

namespace kubec2::reconcilers {
namespace {

constexpr std::int64_t kGiB = 1024;  // in MiB

// 128 bits, so that 18 digits times 2^50 cannot overflow.
__extension__ typedef unsigned __int128 U128;

struct Size {
  const char* size;
  std::int64_t vCPU;
  std::int64_t memoryMiB;
  std::int64_t gpus = 0;
};

void addFamily(std::map<std::string, InstanceTypeInfo>& types, const std::string& family,
               std::initializer_list<Size> sizes) {
  for (const Size& s : sizes) {
    const std::string name = family + "." + s.size;
    types[name] = InstanceTypeInfo{name, s.vCPU, s.memoryMiB, s.gpus};
  }
}

// EC2's published figures (vCPU, memory) per size.
std::map<std::string, InstanceTypeInfo> builtInTypes() {
  std::map<std::string, InstanceTypeInfo> t;
  // Burstable general purpose.
  addFamily(t, "t3",
            {{"nano", 2, 512},
             {"micro", 2, 1 * kGiB},
             {"small", 2, 2 * kGiB},
             {"medium", 2, 4 * kGiB},
             {"large", 2, 8 * kGiB},
             {"xlarge", 4, 16 * kGiB},
             {"2xlarge", 8, 32 * kGiB}});
  // General purpose: 4 GiB per vCPU.
  addFamily(t, "m5",
            {{"large", 2, 8 * kGiB},
             {"xlarge", 4, 16 * kGiB},
             {"2xlarge", 8, 32 * kGiB},
             {"4xlarge", 16, 64 * kGiB},
             {"8xlarge", 32, 128 * kGiB},
             {"12xlarge", 48, 192 * kGiB},
             {"16xlarge", 64, 256 * kGiB},
             {"24xlarge", 96, 384 * kGiB}});
  addFamily(t, "m6i",
            {{"large", 2, 8 * kGiB},
             {"xlarge", 4, 16 * kGiB},
             {"2xlarge", 8, 32 * kGiB},
             {"4xlarge", 16, 64 * kGiB},
             {"8xlarge", 32, 128 * kGiB},
             {"12xlarge", 48, 192 * kGiB},
             {"16xlarge", 64, 256 * kGiB},
             {"24xlarge", 96, 384 * kGiB},
             {"32xlarge", 128, 512 * kGiB}});
  // Compute optimized: 2 GiB per vCPU.
  addFamily(t, "c5",
            {{"large", 2, 4 * kGiB},
             {"xlarge", 4, 8 * kGiB},
             {"2xlarge", 8, 16 * kGiB},
             {"4xlarge", 16, 32 * kGiB},
             {"9xlarge", 36, 72 * kGiB},
             {"12xlarge", 48, 96 * kGiB},
             {"18xlarge", 72, 144 * kGiB},
             {"24xlarge", 96, 192 * kGiB}});
  addFamily(t, "c6i",
            {{"large", 2, 4 * kGiB},
             {"xlarge", 4, 8 * kGiB},
             {"2xlarge", 8, 16 * kGiB},
             {"4xlarge", 16, 32 * kGiB},
             {"8xlarge", 32, 64 * kGiB},
             {"12xlarge", 48, 96 * kGiB},
             {"16xlarge", 64, 128 * kGiB},
             {"24xlarge", 96, 192 * kGiB},
             {"32xlarge", 128, 256 * kGiB}});
  // Memory optimized: 8 GiB per vCPU.
  addFamily(t, "r5",
            {{"large", 2, 16 * kGiB},
             {"xlarge", 4, 32 * kGiB},
             {"2xlarge", 8, 64 * kGiB},
             {"4xlarge", 16, 128 * kGiB},
             {"8xlarge", 32, 256 * kGiB},
             {"12xlarge", 48, 384 * kGiB},
             {"16xlarge", 64, 512 * kGiB},
             {"24xlarge", 96, 768 * kGiB}});
  addFamily(t, "r6i",
            {{"large", 2, 16 * kGiB},
             {"xlarge", 4, 32 * kGiB},
             {"2xlarge", 8, 64 * kGiB},
             {"4xlarge", 16, 128 * kGiB},
             {"8xlarge", 32, 256 * kGiB},
             {"12xlarge", 48, 384 * kGiB},
             {"16xlarge", 64, 512 * kGiB},
             {"24xlarge", 96, 768 * kGiB},
             {"32xlarge", 128, 1024 * kGiB}});
  // Storage optimized: 15.25 GiB per 2 vCPUs.
  addFamily(t, "i3",
            {{"large", 2, 15616},
             {"xlarge", 4, 31232},
             {"2xlarge", 8, 62464},
             {"4xlarge", 16, 124928},
             {"8xlarge", 32, 249856},
             {"16xlarge", 64, 499712}});
  // Accelerated computing (NVIDIA A10G).
  addFamily(t, "g5",
            {{"xlarge", 4, 16 * kGiB, 1},
             {"2xlarge", 8, 32 * kGiB, 1},
             {"4xlarge", 16, 64 * kGiB, 1},
             {"8xlarge", 32, 128 * kGiB, 1},
             {"12xlarge", 48, 192 * kGiB, 4},
             {"16xlarge", 64, 256 * kGiB, 1},
             {"24xlarge", 96, 384 * kGiB, 4},
             {"48xlarge", 192, 768 * kGiB, 8}});
  return t;
}

bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// ^[a-z][a-z0-9-]*\.[a-z0-9]+$, the schema's pattern for instanceType.
bool validTypeName(std::string_view n) {
  const auto dot = n.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == n.size()) return false;
  if (!(n[0] >= 'a' && n[0] <= 'z')) return false;
  for (std::size_t i = 1; i < dot; ++i)
    if (!isLowerAlnum(n[i]) && n[i] != '-') return false;
  for (std::size_t i = dot + 1; i < n.size(); ++i)
    if (!isLowerAlnum(n[i])) return false;
  return true;
}

// A whole number from a JSON integer or a string of digits; throws
// std::invalid_argument with the reason.
std::int64_t wholeNumber(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos)
      return std::stoll(s);
  }
  throw std::invalid_argument("must be a whole number, not " + v.dump());
}

// A Kubernetes quantity (Ki Mi Gi Ti Pi, k/K M G T P, or plain bytes;
// decimals allowed, as "1.5Gi") in whole MiB, rounded down. Throws
// std::invalid_argument with the reason.
std::int64_t quantityToMiB(const nlohmann::json& v) {
  std::string s;
  if (v.is_number_integer()) {
    s = std::to_string(v.get<std::int64_t>());
  } else if (v.is_string()) {
    s = v.get<std::string>();
  } else {
    throw std::invalid_argument("must be a quantity such as 4Gi or 512Mi, not " + v.dump());
  }
  const std::string bad = "\"" + s + "\" is not a quantity such as 4Gi, 512Mi or 2G";
  std::size_t i = 0;
  std::string digits;
  std::size_t fractionDigits = 0;
  bool seenDot = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      digits += c;
      if (seenDot) ++fractionDigits;
    } else if (c == '.' && !seenDot) {
      seenDot = true;
    } else {
      break;
    }
  }
  // Leading zeros do not count toward the size limit below.
  const auto firstNonZero = digits.find_first_not_of('0');
  digits = firstNonZero == std::string::npos ? "0" : digits.substr(firstNonZero);
  if (i == 0 || digits.empty() || digits.size() > 18 || fractionDigits > 9)
    throw std::invalid_argument(bad);
  const std::string suffix = s.substr(i);
  // Multiplier as (binary shift, decimal exponent).
  int shift = 0;
  int exp10 = 0;
  if (suffix.empty()) {
  } else if (suffix == "Ki") {
    shift = 10;
  } else if (suffix == "Mi") {
    shift = 20;
  } else if (suffix == "Gi") {
    shift = 30;
  } else if (suffix == "Ti") {
    shift = 40;
  } else if (suffix == "Pi") {
    shift = 50;
  } else if (suffix == "k" || suffix == "K") {
    exp10 = 3;
  } else if (suffix == "M") {
    exp10 = 6;
  } else if (suffix == "G") {
    exp10 = 9;
  } else if (suffix == "T") {
    exp10 = 12;
  } else if (suffix == "P") {
    exp10 = 15;
  } else {
    throw std::invalid_argument(bad);
  }
  // bytes = mantissa * 2^shift * 10^exp10 / 10^fractionDigits, in 128 bits.
  U128 bytes = std::stoull(digits);
  bytes <<= shift;
  for (int k = 0; k < exp10; ++k) bytes *= 10;
  for (std::size_t k = 0; k < fractionDigits; ++k) bytes /= 10;
  const U128 mib = bytes >> 20;
  if (mib < 1) throw std::invalid_argument(s + " is less than 1Mi (plain numbers are bytes)");
  if (mib > static_cast<U128>(std::numeric_limits<std::int32_t>::max()))
    throw std::invalid_argument(s + " is too large");
  return static_cast<std::int64_t>(mib);
}

// Applies one ConfigMap entry to `into` (a copy of the built-in entry, when
// there is one). Throws std::invalid_argument with "field: reason".
void applyEntry(const std::string& text, bool existing, InstanceTypeInfo& into) {
  // parseYamlDocuments throws std::invalid_argument for text that is not YAML.
  const std::vector<nlohmann::json> docs = kube::parseYamlDocuments(text);
  if (docs.size() != 1 || !docs[0].is_object())
    throw std::invalid_argument("must be one mapping such as {vCPU: 4, memory: 16Gi}");
  const nlohmann::json& m = docs[0];
  for (const auto& [key, value] : m.items()) {
    (void)value;
    if (key != "vCPU" && key != "memory" && key != "gpus")
      throw std::invalid_argument(key + ": unknown field (known: vCPU, memory, gpus)");
  }
  InstanceTypeInfo out = into;
  if (m.contains("vCPU")) {
    try {
      out.vCPU = wholeNumber(m["vCPU"]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("vCPU: ") + e.what());
    }
    if (out.vCPU < 1 || out.vCPU > 1024)
      throw std::invalid_argument("vCPU: must be 1 to 1024, not " + std::to_string(out.vCPU));
  } else if (!existing) {
    throw std::invalid_argument("vCPU: required for a new type");
  }
  if (m.contains("memory")) {
    try {
      out.memoryMiB = quantityToMiB(m["memory"]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("memory: ") + e.what());
    }
  } else if (!existing) {
    throw std::invalid_argument("memory: required for a new type");
  }
  if (m.contains("gpus")) {
    try {
      out.gpus = wholeNumber(m["gpus"]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("gpus: ") + e.what());
    }
    if (out.gpus < 0 || out.gpus > 64)
      throw std::invalid_argument("gpus: must be 0 to 64, not " + std::to_string(out.gpus));
  }
  into = out;
}

}  // namespace

const InstanceTypeCatalog& InstanceTypeCatalog::builtIn() {
  static const InstanceTypeCatalog catalog = [] {
    InstanceTypeCatalog c;
    c.types_ = builtInTypes();
    return c;
  }();
  return catalog;
}

// An entry for a built-in type may set only some fields (`t3.micro:
// {memory: 2Gi}` keeps its 2 vCPUs); a new type needs vCPU and memory.
// Unknown fields are refused rather than ignored, so that a misspelt
// `memroy` is reported instead of silently keeping the old figure. Memory
// is rounded down to whole MiB.
InstanceTypeCatalog InstanceTypeCatalog::withOverrides(
    const std::map<std::string, std::string>& data, std::vector<std::string>& problems) const {
  InstanceTypeCatalog out = *this;
  for (const auto& [name, text] : data) {
    if (!validTypeName(name)) {
      problems.push_back(name + ": not an instance type name (family.size, such as m5.large)");
      continue;
    }
    const auto it = out.types_.find(name);
    const bool existing = it != out.types_.end();
    InstanceTypeInfo info = existing ? it->second : InstanceTypeInfo{name, 0, 0, 0};
    try {
      applyEntry(text, existing, info);
    } catch (const std::invalid_argument& e) {
      problems.push_back(name + ": " + e.what());
      continue;
    }
    out.types_[name] = info;
  }
  return out;
}

std::vector<std::string> InstanceTypeCatalog::namesBySize() const {
  std::vector<const InstanceTypeInfo*> types;
  types.reserve(types_.size());
  for (const auto& [name, info] : types_) types.push_back(&info);
  auto family = [](const InstanceTypeInfo* t) { return t->name.substr(0, t->name.find('.')); };
  std::sort(types.begin(), types.end(), [&](const InstanceTypeInfo* a, const InstanceTypeInfo* b) {
    return std::make_tuple(family(a), a->vCPU, a->memoryMiB, a->name) <
           std::make_tuple(family(b), b->vCPU, b->memoryMiB, b->name);
  });
  std::vector<std::string> out;
  out.reserve(types.size());
  for (const auto* t : types) out.push_back(t->name);
  return out;
}

const InstanceTypeInfo* InstanceTypeCatalog::find(const std::string& name) const {
  const auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

}  // namespace kubec2::reconcilers
