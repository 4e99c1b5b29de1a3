// Pieces shared by the end-to-end benchmarks (bench_client_create,
// bench_informer_sync): flag parsing, the widget objects they write, process
// memory figures.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/client.h"

namespace kube::bench {

inline const Resource kNamespaces{"", "v1", "namespaces", false, "Namespace"};
inline const Resource kWidgets{"test.kubec2.io", "v1", "widgets", true, "Widget"};

// --name value pairs and bare --flags. Unknown flags are an error.
class Flags {
 public:
  Flags(int argc, char** argv, std::map<std::string, std::string> defaults)
      : values_(std::move(defaults)) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + a);
      a = a.substr(2);
      std::string v = "true";
      if (auto eq = a.find('='); eq != std::string::npos) {
        v = a.substr(eq + 1);
        a = a.substr(0, eq);
      } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        v = argv[++i];
      }
      if (!values_.count(a)) throw std::invalid_argument("unknown flag --" + a);
      values_[a] = v;
    }
  }
  const std::string& str(const std::string& k) const { return values_.at(k); }
  long num(const std::string& k) const { return std::stol(values_.at(k)); }
  bool on(const std::string& k) const { return values_.at(k) == "true"; }

 private:
  std::map<std::string, std::string> values_;
};

// A widget named `name`. With `targetBytes` > 0, spec.payload is padded so
// that the compact JSON of the object is exactly that long (when it can be).
inline nlohmann::json widget(const std::string& name, size_t targetBytes) {
  nlohmann::json w = {{"apiVersion", "test.kubec2.io/v1"},
                      {"kind", "Widget"},
                      {"metadata", {{"name", name}}},
                      {"spec", {{"replicas", 1}, {"color", "blue"}}}};
  if (targetBytes == 0) return w;
  w["spec"]["payload"] = "";
  size_t base = w.dump().size();
  if (targetBytes > base) w["spec"]["payload"] = std::string(targetBytes - base, 'x');
  return w;
}

// Creates namespace `name`; an existing one is fine.
inline void ensureNamespace(Client& c, const std::string& name) {
  try {
    c.create(kNamespaces, "",
             {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  } catch (const ApiError& e) {
    if (!e.isAlreadyExists()) throw;
  }
}

struct MemStatus {
  long rssKb = 0;  // VmRSS
  long hwmKb = 0;  // VmHWM: the peak RSS so far
};

inline MemStatus memStatus() {
  MemStatus m;
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rssKb = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) m.hwmKb = std::stol(line.substr(6));
  }
  return m;
}

inline double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace kube::bench
