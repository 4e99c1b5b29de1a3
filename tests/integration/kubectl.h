// kubectl against the test control plane, as a user runs it, and YAML files
// read as the documents kubectl would send.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/yaml.h"
#include "tests/integration/child_process.h"
#include "tests/integration/control_plane.h"

namespace kube::testing {

// Runs kubectl with the admin kubeconfig; returns {exit code, stdout and
// stderr}. A run over 60 s is a hang and returns -1.
inline std::pair<int, std::string> kubectl(std::vector<std::string> args) {
  static int n = 0;
  const std::string log = ControlPlaneEnvironment::get().dir() + "/kubectl-" + std::to_string(++n);
  std::vector<std::string> argv = {"/usr/bin/env", "kubectl", "--kubeconfig",
                                   ControlPlaneEnvironment::get().kubeconfig()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, log);
  auto code = p.wait(std::chrono::seconds(60));
  return {code.value_or(-1), p.output()};
}

// Writes `manifest` as a file in the control plane's folder, for `kubectl -f`.
inline std::string writeManifest(const nlohmann::json& manifest) {
  static int n = 0;
  const std::string path =
      ControlPlaneEnvironment::get().dir() + "/manifest-" + std::to_string(++n) + ".json";
  std::ofstream(path) << manifest.dump(2);
  return path;
}

inline std::vector<nlohmann::json> documents(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return parseYamlDocuments(text.str());
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The object of `kind` named `name` among `docs`, or nullptr.
inline const nlohmann::json* findObject(const std::vector<nlohmann::json>& docs,
                                        const std::string& kind, const std::string& name) {
  for (const auto& d : docs)
    if (d.value("kind", "") == kind && d["metadata"].value("name", "") == name) return &d;
  return nullptr;
}

}  // namespace kube::testing
