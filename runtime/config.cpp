#include "runtime/config.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kube {
namespace {

std::string readFileOrThrow(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ConfigError(what + ": cannot read file " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string base64Decode(const std::string& in, const std::string& what) {
  std::string clean;
  for (char c : in)
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  if (clean.size() % 4 != 0) throw ConfigError(what + " is not valid base64");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) throw ConfigError(what + " is not valid base64");
  size_t len = static_cast<size_t>(n);
  if (!clean.empty() && clean.back() == '=') --len;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

YAML::Node findNamed(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& e : list)
    if (e["name"] && e["name"].as<std::string>() == name) return e[field];
  return YAML::Node();
}

std::string str(const YAML::Node& n, const char* k) {
  return n && n[k] ? n[k].as<std::string>() : std::string();
}

std::string resolve(const std::string& baseDir, const std::string& p) {
  if (p.empty() || p[0] == '/' || baseDir.empty()) return p;
  return baseDir + "/" + p;
}

}  // namespace

RestConfig parseKubeconfig(const std::string& yamlText, const std::string& context,
                           const std::string& baseDir, const std::string& source) {
  const std::string where = "kubeconfig " + source;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw ConfigError(where + ": not a kubeconfig (expected a YAML map)");
  RestConfig cfg;
  try {
    std::string ctxName = context.empty() ? str(root, "current-context") : context;
    if (ctxName.empty()) throw ConfigError(where + ": no current-context and no --context given");
    YAML::Node ctx = findNamed(root["contexts"], ctxName, "context");
    if (!ctx) {
      std::string names;
      if (root["contexts"] && root["contexts"].IsSequence())
        for (const auto& c : root["contexts"]) names += (names.empty() ? "" : ", ") + str(c, "name");
      throw ConfigError(where + ": context \"" + ctxName + "\" not found (contexts: " + names + ")");
    }
    cfg.contextName = ctxName;
    cfg.defaultNamespace = str(ctx, "namespace").empty() ? "default" : str(ctx, "namespace");
    std::string clusterName = str(ctx, "cluster");
    YAML::Node cluster = findNamed(root["clusters"], clusterName, "cluster");
    if (!cluster) throw ConfigError(where + ": cluster \"" + clusterName + "\" not found");
    cfg.server = str(cluster, "server");
    while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
    if (cfg.server.empty()) throw ConfigError(where + ": cluster \"" + clusterName + "\": server is empty");
    if (cfg.server.rfind("https://", 0) != 0)
      throw ConfigError(where + ": cluster \"" + clusterName + "\": server " + cfg.server +
                        " is not https:// (plain HTTP is not supported)");
    if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>())
      throw ConfigError(where + ": cluster \"" + clusterName +
                        "\": insecure-skip-tls-verify is set; kubec2 always verifies TLS, give "
                        "certificate-authority-data instead");
    if (!str(cluster, "certificate-authority-data").empty()) {
      cfg.caPem = base64Decode(str(cluster, "certificate-authority-data"),
                               where + ": cluster \"" + clusterName + "\": certificate-authority-data");
    } else if (!str(cluster, "certificate-authority").empty()) {
      cfg.caFile = resolve(baseDir, str(cluster, "certificate-authority"));
      cfg.caPem = readFileOrThrow(cfg.caFile, where + ": cluster \"" + clusterName + "\"");
    }
    cfg.tlsServerName = str(cluster, "tls-server-name");
    std::string userName = str(ctx, "user");
    YAML::Node user = findNamed(root["users"], userName, "user");
    const std::string uw = where + ": user \"" + userName + "\"";
    if (user) {
      for (const char* unsupported : {"exec", "auth-provider", "username", "password"})
        if (user[unsupported]) throw ConfigError(uw + ": " + unsupported + " is not supported");
      cfg.token = str(user, "token");
      cfg.tokenFile = resolve(baseDir, str(user, "tokenFile"));
      if (!str(user, "client-certificate-data").empty())
        cfg.clientCertPem = base64Decode(str(user, "client-certificate-data"), uw + ": client-certificate-data");
      else if (!str(user, "client-certificate").empty())
        cfg.clientCertPem = readFileOrThrow(resolve(baseDir, str(user, "client-certificate")), uw);
      if (!str(user, "client-key-data").empty())
        cfg.clientKeyPem = base64Decode(str(user, "client-key-data"), uw + ": client-key-data");
      else if (!str(user, "client-key").empty())
        cfg.clientKeyPem = readFileOrThrow(resolve(baseDir, str(user, "client-key")), uw);
      if (cfg.clientCertPem.empty() != cfg.clientKeyPem.empty())
        throw ConfigError(uw + ": a client certificate needs both certificate and key");
    }
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": " + e.what());
  }
  return cfg;
}

RestConfig loadKubeconfig(const std::vector<std::string>& paths, const std::string& context) {
  if (paths.empty()) throw ConfigError("no kubeconfig file given");
  // Merging: the first file is used whole (kubectl's merge of several files
  // is reduced to "first file that exists"; documented in docs/runtime.md).
  for (const auto& p : paths) {
    if (!std::filesystem::exists(p)) continue;
    std::string dir = std::filesystem::path(p).parent_path().string();
    return parseKubeconfig(readFileOrThrow(p, "kubeconfig"), context, dir, p);
  }
  throw ConfigError("kubeconfig " + paths.front() + ": file does not exist");
}

RestConfig inClusterConfig(const std::string& saDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host) throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is not set");
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  RestConfig cfg;
  cfg.server = "https://" + h + ":" + (port && *port ? port : "443");
  cfg.tokenFile = saDir + "/token";
  cfg.token = readFileOrThrow(cfg.tokenFile, "in-cluster service account token");
  cfg.caFile = saDir + "/ca.crt";
  cfg.caPem = readFileOrThrow(cfg.caFile, "in-cluster CA");
  std::ifstream nsf(saDir + "/namespace");
  std::getline(nsf, cfg.defaultNamespace);
  cfg.contextName = "in-cluster";
  return cfg;
}

RestConfig loadConfig(const std::string& kubeconfigFlag, const std::string& context) {
  if (!kubeconfigFlag.empty()) return loadKubeconfig({kubeconfigFlag}, context);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::vector<std::string> paths;
    std::stringstream ss(env);
    for (std::string p; std::getline(ss, p, ':');)
      if (!p.empty()) paths.push_back(p);
    if (!paths.empty()) return loadKubeconfig(paths, context);
  }
  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST"); h && *h) return inClusterConfig();
  const char* home = std::getenv("HOME");
  return loadKubeconfig({std::string(home ? home : "") + "/.kube/config"}, context);
}

}  // namespace kube
