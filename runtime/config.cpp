#include "runtime/config.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>

#include "runtime/strings.h"

namespace kube {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- small helpers

bool fileExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string readFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ConfigError(what + ": file " + path + " does not exist");
  if (fs::is_directory(path, ec)) throw ConfigError(what + ": " + path + " is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ConfigError(what + ": cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw ConfigError(what + ": cannot read " + path + ": " + std::strerror(errno));
  return ss.str();
}

// A bearer token file: surrounding whitespace (the usual trailing newline) is
// not part of the token, and an empty file is an error now rather than a 401 later.
std::string readToken(const std::string& path, const std::string& what) {
  std::string t = trim(readFile(path, what));
  if (t.empty()) throw ConfigError(what + ": token file " + path + " is empty");
  return t;
}

// Relative file references in a kubeconfig are relative to that file's folder.
std::string resolvePath(const std::string& baseDir, const std::string& p) {
  if (p.empty() || baseDir.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(baseDir) / p).lexically_normal().string();
}

// Standard base64 with padding, as Go's encoding/json decodes []byte fields.
// Whitespace is skipped because YAML block scalars may fold long values.
// Returns false with `why` set when the text is not valid base64.
bool base64Decode(std::string_view in, std::string& out, std::string& why) {
  std::string s;
  s.reserve(in.size());
  for (char c : in)
    if (!std::isspace(static_cast<unsigned char>(c))) s.push_back(c);
  if (s.size() % 4 != 0) {
    why = "length " + std::to_string(s.size()) + " is not a multiple of 4";
    return false;
  }
  size_t pad = 0;
  while (pad < 2 && pad < s.size() && s[s.size() - 1 - pad] == '=') ++pad;
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  out.reserve(s.size() / 4 * 3);
  const size_t dataLen = s.size() - pad;
  unsigned long acc = 0;
  int bits = 0;
  for (size_t i = 0; i < dataLen; ++i) {
    int v = sextet(s[i]);
    if (v < 0) {
      why = std::string("unexpected character '") + s[i] + "' at offset " + std::to_string(i);
      return false;
    }
    acc = (acc << 6) | static_cast<unsigned long>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
    }
  }
  return true;
}

// ------------------------------------------------------------- PEM checks
//
// Decoding the PEM here means a wrong file or a mangled *-data field is
// reported at start-up with the field's name, not as a TLS error on the
// first request.

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// Never prompt on the terminal for a key passphrase.
int noPassphrase(char*, int, int, void*) {
  return 0;
}

std::unique_ptr<BIO, BioFree> memBio(const std::string& pem, const std::string& what) {
  if (pem.size() > INT_MAX) throw ConfigError(what + " is too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw ConfigError(what + ": out of memory");
  return bio;
}

void checkCaBundle(const std::string& pem, const std::string& what) {
  auto bio = memBio(pem, what);
  int certs = 0;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr)) {
    X509_free(x);
    ++certs;
  }
  ERR_clear_error();  // the loop always ends on a "no more PEM" error
  if (certs == 0) throw ConfigError(what + " holds no PEM certificate");
}

void checkClientPair(const std::string& certPem, const std::string& keyPem,
                     const std::string& certWhat, const std::string& keyWhat,
                     const std::string& where) {
  auto cbio = memBio(certPem, certWhat);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cbio.get(), nullptr, noPassphrase, nullptr));
  auto kbio = memBio(keyPem, keyWhat);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(kbio.get(), nullptr, noPassphrase, nullptr));
  const bool match = cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!cert) throw ConfigError(certWhat + " holds no PEM certificate");
  if (!key)
    throw ConfigError(keyWhat +
                      " holds no PEM private key (an encrypted key is not supported either)");
  if (!match) throw ConfigError(where + ": the client certificate and client key do not match");
}

// ------------------------------------------------------------ kubeconfig model

// One named cluster, user or context, with the file it came from (for
// messages and for resolving relative paths).
struct Named {
  YAML::Node body;
  std::string source;
  std::string baseDir;
};

struct Merged {
  std::vector<std::string> sources;
  std::map<std::string, Named> clusters, users, contexts;
  std::string currentContext;
};

// A string field of a map; "" when absent or null. Lookups go through a const
// node because operator[] on a non-const yaml-cpp node inserts the key.
std::string scalar(const YAML::Node& map, const char* key, const std::string& where) {
  if (!map || !map.IsMap()) return "";
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return "";
  if (!n.IsScalar()) throw ConfigError(where + ": " + key + " must be a string");
  return n.Scalar();
}

bool present(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return false;
  const YAML::Node n = map[key];
  return n && !n.IsNull();
}

std::string names(const std::map<std::string, Named>& m, const char* what) {
  if (m.empty()) return std::string("no ") + what + " are defined";
  std::vector<std::string> v;
  for (const auto& [k, _] : m) v.push_back(k);
  return std::string(what) + ": " + join(v, ", ");
}

void mergeList(const YAML::Node& root, const char* listKey, const char* bodyKey,
               std::map<std::string, Named>& into, const std::string& where,
               const std::string& source, const std::string& baseDir) {
  const YAML::Node list = root[listKey];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) throw ConfigError(where + ": " + listKey + " must be a list");
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node e = list[i];
    const std::string at = where + ": " + listKey + "[" + std::to_string(i) + "]";
    if (!e.IsMap()) throw ConfigError(at + " must be a map with name and " + bodyKey);
    const std::string name = scalar(e, "name", at);
    if (name.empty()) throw ConfigError(at + ": name is missing");
    // client-go refuses duplicates within one file rather than picking one.
    if (!seen.insert(name).second)
      throw ConfigError(where + ": " + listKey + ": duplicate name \"" + name + "\"");
    const YAML::Node body = e[bodyKey];
    if (body && !body.IsNull() && !body.IsMap())
      throw ConfigError(at + " (\"" + name + "\"): " + bodyKey + " must be a map");
    into.emplace(name, Named{body, source, baseDir});  // emplace: the first file wins
  }
}

void mergeFile(Merged& m, const std::string& yamlText, const std::string& baseDir,
               const std::string& source) {
  const std::string where = "kubeconfig " + source;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": not valid YAML: " + e.what());
  }
  m.sources.push_back(source);
  if (!root || root.IsNull()) return;  // an empty file adds nothing, as with kubectl
  if (!root.IsMap())
    throw ConfigError(where + ": not a kubeconfig: expected a YAML map at the top level");
  try {
    const YAML::Node& r = root;
    mergeList(r, "clusters", "cluster", m.clusters, where, source, baseDir);
    mergeList(r, "users", "user", m.users, where, source, baseDir);
    mergeList(r, "contexts", "context", m.contexts, where, source, baseDir);
    std::string current = scalar(r, "current-context", where);
    if (m.currentContext.empty()) m.currentContext = current;
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": " + e.what());
  }
}

void applyCluster(RestConfig& cfg, const std::string& name, const Named& c) {
  const std::string w = "kubeconfig " + c.source + ": cluster \"" + name + "\"";
  const YAML::Node& b = c.body;

  std::string server = trim(scalar(b, "server", w));
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (server.empty()) throw ConfigError(w + ": server is empty");
  if (startsWithNoCase(server, "http://"))
    throw ConfigError(w + ": server " + server +
                      " uses plain HTTP, which is not supported (kubec2 always uses TLS)");
  if (!startsWithNoCase(server, "https://"))
    throw ConfigError(w + ": server \"" + server + "\" must be an https:// URL");
  if (server.size() == std::string_view("https://").size())
    throw ConfigError(w + ": server \"" + server + "\" has no host");
  cfg.server = server;

  if (present(b, "insecure-skip-tls-verify")) {
    bool insecure = false;
    try {
      insecure = b["insecure-skip-tls-verify"].as<bool>();
    } catch (const YAML::Exception&) {
      throw ConfigError(w + ": insecure-skip-tls-verify must be true or false");
    }
    if (insecure)
      throw ConfigError(w +
                        ": insecure-skip-tls-verify is true, but TLS verification cannot be "
                        "switched off in kubec2; give certificate-authority or "
                        "certificate-authority-data instead (and tls-server-name if the "
                        "server's certificate names another host)");
  }
  // Ignoring it would silently connect directly instead.
  if (present(b, "proxy-url")) throw ConfigError(w + ": proxy-url is not supported");

  // As with kubectl, the inline data wins over the file when both are given.
  if (std::string data = scalar(b, "certificate-authority-data", w); !data.empty()) {
    std::string why;
    if (!base64Decode(data, cfg.caPem, why))
      throw ConfigError(w + ": certificate-authority-data is not valid base64 (" + why + ")");
    checkCaBundle(cfg.caPem, w + ": certificate-authority-data");
  } else if (std::string file = scalar(b, "certificate-authority", w); !file.empty()) {
    cfg.caFile = resolvePath(c.baseDir, file);
    const std::string what = w + ": certificate-authority " + cfg.caFile;
    cfg.caPem = readFile(cfg.caFile, w + ": certificate-authority");
    checkCaBundle(cfg.caPem, what);
  }
  cfg.tlsServerName = scalar(b, "tls-server-name", w);
}

// Loads one PEM from `<field>-data` (base64) or from the file `<field>`.
// Returns the description used in messages, empty when neither is set.
std::string pemField(const YAML::Node& b, const std::string& field, const Named& u,
                     const std::string& w, std::string& pem) {
  const std::string dataField = field + "-data";
  if (std::string data = scalar(b, dataField.c_str(), w); !data.empty()) {
    std::string why;
    if (!base64Decode(data, pem, why))
      throw ConfigError(w + ": " + dataField + " is not valid base64 (" + why + ")");
    return w + ": " + dataField;
  }
  if (std::string file = scalar(b, field.c_str(), w); !file.empty()) {
    std::string path = resolvePath(u.baseDir, file);
    pem = readFile(path, w + ": " + field);
    return w + ": " + field + " " + path;
  }
  return "";
}

void applyUser(RestConfig& cfg, const std::string& name, const Named& u) {
  const std::string w = "kubeconfig " + u.source + ": user \"" + name + "\"";
  const YAML::Node& b = u.body;

  struct Unsupported {
    const char* field;
    const char* what;
  };
  static constexpr Unsupported kUnsupported[] = {
      {"exec", "exec (credential plugin) authentication"},
      {"auth-provider", "auth-provider authentication"},
      {"username", "username/password (basic) authentication"},
      {"password", "username/password (basic) authentication"},
      // Impersonation changes who the requests act as; ignoring it would be worse.
      {"as", "impersonation"},
      {"as-uid", "impersonation"},
      {"as-groups", "impersonation"},
      {"as-user-extra", "impersonation"},
  };
  for (const auto& f : kUnsupported)
    if (present(b, f.field))
      throw ConfigError(w + ": " + f.field + " is set, but " + f.what +
                        " is not supported; use token, tokenFile or a client certificate "
                        "(client-certificate-data and client-key-data)");

  // A fixed token takes precedence over tokenFile (kubeconfig's documented
  // rule); the file is read once now so a bad path fails at start-up.
  if (std::string token = scalar(b, "token", w); !token.empty()) {
    cfg.token = trim(token);
  } else if (std::string file = scalar(b, "tokenFile", w); !file.empty()) {
    cfg.tokenFile = resolvePath(u.baseDir, file);
    cfg.token = readToken(cfg.tokenFile, w + ": tokenFile");
  }

  const std::string certWhat = pemField(b, "client-certificate", u, w, cfg.clientCertPem);
  const std::string keyWhat = pemField(b, "client-key", u, w, cfg.clientKeyPem);
  if (!certWhat.empty() && keyWhat.empty())
    throw ConfigError(w + ": client-certificate is given without client-key(-data)");
  if (certWhat.empty() && !keyWhat.empty())
    throw ConfigError(w + ": client-key is given without client-certificate(-data)");
  if (!certWhat.empty()) checkClientPair(cfg.clientCertPem, cfg.clientKeyPem, certWhat, keyWhat, w);
}

RestConfig build(const Merged& m, const std::string& context) {
  const std::string where = "kubeconfig " + join(m.sources, ", ");
  const std::string ctxName = context.empty() ? m.currentContext : context;
  if (ctxName.empty())
    throw ConfigError(where + ": no current-context is set and no context was given (" +
                      names(m.contexts, "contexts") + ")");
  auto ctx = m.contexts.find(ctxName);
  if (ctx == m.contexts.end())
    throw ConfigError(where + ": context \"" + ctxName + "\" not found (" +
                      names(m.contexts, "contexts") + ")");

  RestConfig cfg;
  try {
    const Named& c = ctx->second;
    const std::string cw = "kubeconfig " + c.source + ": context \"" + ctxName + "\"";
    cfg.contextName = ctxName;
    const std::string ns = scalar(c.body, "namespace", cw);
    cfg.defaultNamespace = ns.empty() ? "default" : ns;

    const std::string clusterName = scalar(c.body, "cluster", cw);
    if (clusterName.empty()) throw ConfigError(cw + ": cluster is empty");
    auto cluster = m.clusters.find(clusterName);
    if (cluster == m.clusters.end())
      throw ConfigError(cw + ": cluster \"" + clusterName + "\" not found (" +
                        names(m.clusters, "clusters") + ")");
    applyCluster(cfg, clusterName, cluster->second);

    // No user means no credentials, which kubectl allows too.
    if (const std::string userName = scalar(c.body, "user", cw); !userName.empty()) {
      auto user = m.users.find(userName);
      if (user == m.users.end())
        throw ConfigError(cw + ": user \"" + userName + "\" not found (" + names(m.users, "users") +
                          ")");
      applyUser(cfg, userName, user->second);
    }
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": " + e.what());
  }
  return cfg;
}

}  // namespace

RestConfig parseKubeconfig(const std::string& yamlText, const std::string& context,
                           const std::string& baseDir, const std::string& source) {
  Merged m;
  mergeFile(m, yamlText, baseDir, source);
  return build(m, context);
}

RestConfig loadKubeconfig(const std::vector<std::string>& paths, const std::string& context) {
  if (paths.empty()) throw ConfigError("no kubeconfig file given");
  Merged m;
  for (const auto& p : paths) {
    const std::string where = "kubeconfig " + p;
    if (!fileExists(p)) throw ConfigError(where + ": file does not exist");
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    const std::string baseDir = (ec ? fs::path(p) : abs).parent_path().string();
    mergeFile(m, readFile(p, where), baseDir, p);
  }
  return build(m, context);
}

RestConfig inClusterConfig(const std::string& saDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  if (!host || !*host)
    throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is not set");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!port || !*port)
    throw ConfigError(
        "in-cluster config: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not");
  const std::string portStr = port;
  const bool digits =
      portStr.size() <= 5 && portStr.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoi(portStr) < 1 || std::stoi(portStr) > 65535)
    throw ConfigError("in-cluster config: KUBERNETES_SERVICE_PORT \"" + portStr +
                      "\" is not a port number");
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";  // IPv6

  RestConfig cfg;
  cfg.server = "https://" + h + ":" + portStr;
  cfg.contextName = "in-cluster";
  const fs::path dir(saDir);
  cfg.tokenFile = (dir / "token").string();
  cfg.token = readToken(cfg.tokenFile, "in-cluster config: service account token");
  cfg.caFile = (dir / "ca.crt").string();
  cfg.caPem = readFile(cfg.caFile, "in-cluster config: service account CA");
  checkCaBundle(cfg.caPem, "in-cluster config: service account CA " + cfg.caFile);
  const std::string nsFile = (dir / "namespace").string();
  if (fileExists(nsFile)) cfg.defaultNamespace = trim(readFile(nsFile, "in-cluster config"));
  if (cfg.defaultNamespace.empty()) cfg.defaultNamespace = "default";
  return cfg;
}

RestConfig loadConfig(const std::string& kubeconfigFlag, const std::string& context) {
  if (!kubeconfigFlag.empty()) return loadKubeconfig({kubeconfigFlag}, context);

  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::vector<std::string> listed, existing;
    std::stringstream ss(env);
    for (std::string p; std::getline(ss, p, ':');) {
      if (p.empty()) continue;
      listed.push_back(p);
      if (fileExists(p)) existing.push_back(p);
    }
    // As with kubectl, missing files are skipped; only all missing is an error.
    if (!existing.empty()) return loadKubeconfig(existing, context);
    if (!listed.empty())
      throw ConfigError("KUBECONFIG=" + std::string(env) + ": no such file: " + join(listed, ", "));
  }

  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST"); h && *h) {
    if (!context.empty())
      throw ConfigError("context \"" + context +
                        "\" was given, but there is no kubeconfig (no --kubeconfig, KUBECONFIG "
                        "not set) and in-cluster configuration has no contexts");
    return inClusterConfig();
  }

  const char* home = std::getenv("HOME");
  if (!home || !*home)
    throw ConfigError(
        "no configuration found: no --kubeconfig, KUBECONFIG is not set, not running in a "
        "cluster (KUBERNETES_SERVICE_HOST is not set), and HOME is not set");
  const std::string path = (fs::path(home) / ".kube" / "config").string();
  if (!fileExists(path))
    throw ConfigError(
        "no configuration found: no --kubeconfig, KUBECONFIG is not set, not running in a "
        "cluster (KUBERNETES_SERVICE_HOST is not set), and " +
        path + " does not exist");
  return loadKubeconfig({path}, context);
}

}  // namespace kube
