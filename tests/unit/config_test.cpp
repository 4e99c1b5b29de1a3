#include "runtime/config.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace kube {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kubec2-config-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to `rel` (folders created as needed); returns the full path.
  std::string write(const std::string& rel, const std::string& content) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

// Sets or unsets environment variables for one test and puts back the
// previous values afterwards, so tests do not leak into each other.
class EnvGuard {
 public:
  ~EnvGuard() {
    for (const auto& [name, old] : saved_) {
      if (old) {
        setenv(name.c_str(), old->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  void set(const std::string& name, const std::string& value) {
    save(name);
    setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    unsetenv(name.c_str());
  }

 private:
  void save(const std::string& name) {
    if (saved_.count(name)) return;
    const char* v = std::getenv(name.c_str());
    saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

std::string bioToString(BIO* bio) {
  std::string out;
  char buf[4096];
  int n;
  while ((n = BIO_read(bio, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

struct CertAndKey {
  std::string certPem;
  std::string keyPem;
};

// A throw-away self-signed EC certificate, made here so no key material is
// checked in.
CertAndKey makeCert(const std::string& cn) {
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_group_name(ctx, "P-256") <= 0 ||
      EVP_PKEY_generate(ctx, &key) <= 0)
    throw std::runtime_error("EC key generation failed");
  EVP_PKEY_CTX_free(ctx);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  CertAndKey out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  out.certPem = bioToString(b);
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.keyPem = bioToString(b);
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

// Key generation is the slow part; two pairs serve every test.
const CertAndKey& pairA() {
  static const CertAndKey p = makeCert("a");
  return p;
}
const CertAndKey& pairB() {
  static const CertAndKey p = makeCert("b");
  return p;
}

std::string b64(const std::string& s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The ConfigError message `f` throws, or "" when it does not throw.
std::string configError(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string parseError(const std::string& yaml, const std::string& context = "") {
  return configError([&] { parseKubeconfig(yaml, context, "/x", "/x/config"); });
}

#define EXPECT_CONTAINS(haystack, needle)                               \
  do {                                                                  \
    const std::string h_ = (haystack);                                  \
    EXPECT_NE(h_.find(needle), std::string::npos) << "message: " << h_; \
  } while (0)

// A one-context kubeconfig; `clusterExtra` and `userExtra` are added, already
// indented, under the cluster and the user.
std::string kubeconfig(const std::string& clusterExtra, const std::string& userExtra,
                       const std::string& server = "https://api.example.com:6443") {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: c\n"
         "  cluster:\n"
         "    server: " +
         server + "\n" + clusterExtra +
         "users:\n"
         "- name: u\n"
         "  user:\n" +
         (userExtra.empty() ? "    {}\n" : userExtra) +
         "contexts:\n"
         "- name: ctx\n"
         "  context:\n"
         "    cluster: c\n"
         "    user: u\n"
         "    namespace: team-a\n"
         "current-context: ctx\n";
}

TEST(Kubeconfig, Token) {
  auto cfg = parseKubeconfig(kubeconfig("    tls-server-name: kubernetes\n", "    token: abc123\n",
                                        "https://api.example.com:6443/"),
                             "", "/x", "/x/config");
  EXPECT_EQ(cfg.server, "https://api.example.com:6443");  // trailing slash dropped
  EXPECT_EQ(cfg.token, "abc123");
  EXPECT_EQ(cfg.tokenFile, "");
  EXPECT_EQ(cfg.tlsServerName, "kubernetes");
  EXPECT_EQ(cfg.contextName, "ctx");
  EXPECT_EQ(cfg.defaultNamespace, "team-a");
  EXPECT_EQ(cfg.caPem, "");
  EXPECT_EQ(cfg.clientCertPem, "");
}

TEST(Kubeconfig, ClientCertificateAndCaData) {
  const auto& ca = pairB();
  const auto& client = pairA();
  auto cfg = parseKubeconfig(kubeconfig("    certificate-authority-data: " + b64(ca.certPem) + "\n",
                                        "    client-certificate-data: " + b64(client.certPem) +
                                            "\n    client-key-data: " + b64(client.keyPem) + "\n"),
                             "", "/x", "/x/config");
  EXPECT_EQ(cfg.caPem, ca.certPem);
  EXPECT_EQ(cfg.caFile, "");
  EXPECT_EQ(cfg.clientCertPem, client.certPem);
  EXPECT_EQ(cfg.clientKeyPem, client.keyPem);
  EXPECT_EQ(cfg.token, "");
}

TEST(Kubeconfig, Base64PaddingAndFolding) {
  // Extra bytes after the certificate (ignored by PEM readers) make the
  // encoding end with no padding, "=" and "==".
  for (const std::string tail : {"", "\n", "\n\n", "\n\n\n"}) {
    const std::string pem = pairA().certPem + tail;
    std::string encoded = b64(pem);
    auto cfg = parseKubeconfig(kubeconfig("    certificate-authority-data: " + encoded + "\n", ""),
                               "", "/x", "/x/config");
    EXPECT_EQ(cfg.caPem, pem) << "padding " << encoded.substr(encoded.size() - 2);
    // A folded YAML block scalar puts newlines inside the value.
    std::string folded = "    certificate-authority-data: |\n";
    for (size_t i = 0; i < encoded.size(); i += 64)
      folded += "      " + encoded.substr(i, 64) + "\n";
    cfg = parseKubeconfig(kubeconfig(folded, ""), "", "/x", "/x/config");
    EXPECT_EQ(cfg.caPem, pem);
  }
}

TEST(Kubeconfig, FilesResolvedAgainstTheKubeconfigFolder) {
  TempDir dir;
  const auto& client = pairA();
  dir.write("kube/certs/ca.crt", pairB().certPem);
  dir.write("kube/certs/client.crt", client.certPem);
  dir.write("kube/certs/client.key", client.keyPem);
  dir.write("kube/token", "file-token\n");
  const std::string config =
      dir.write("kube/config", kubeconfig("    certificate-authority: certs/ca.crt\n",
                                          "    tokenFile: token\n"
                                          "    client-certificate: certs/client.crt\n"
                                          "    client-key: " +
                                              dir.path() + "/kube/certs/client.key\n"));
  auto cfg = loadKubeconfig({config});
  EXPECT_EQ(cfg.caFile, dir.path() + "/kube/certs/ca.crt");
  EXPECT_EQ(cfg.caPem, pairB().certPem);
  EXPECT_EQ(cfg.clientCertPem, client.certPem);
  EXPECT_EQ(cfg.clientKeyPem, client.keyPem);
  EXPECT_EQ(cfg.tokenFile, dir.path() + "/kube/token");
  EXPECT_EQ(cfg.token, "file-token");  // read once now, newline dropped

  // parseKubeconfig resolves against the baseDir it is given.
  auto parsed = parseKubeconfig(kubeconfig("    certificate-authority: certs/ca.crt\n", ""), "",
                                dir.path() + "/kube", "test");
  EXPECT_EQ(parsed.caFile, dir.path() + "/kube/certs/ca.crt");
  EXPECT_EQ(parsed.caPem, pairB().certPem);
}

TEST(Kubeconfig, CaDataWinsOverCaFile) {
  auto cfg = parseKubeconfig(kubeconfig("    certificate-authority: /does/not/exist\n"
                                        "    certificate-authority-data: " +
                                            b64(pairA().certPem) + "\n",
                                        ""),
                             "", "/x", "/x/config");
  EXPECT_EQ(cfg.caPem, pairA().certPem);
  EXPECT_EQ(cfg.caFile, "");
}

TEST(Kubeconfig, TokenWinsOverTokenFile) {
  auto cfg = parseKubeconfig(kubeconfig("", "    token: fixed\n    tokenFile: /does/not/exist\n"),
                             "", "/x", "/x/config");
  EXPECT_EQ(cfg.token, "fixed");
  EXPECT_EQ(cfg.tokenFile, "");
}

const char* kTwoContexts = R"(
clusters:
- name: one
  cluster: {server: "https://one:6443"}
- name: two
  cluster: {server: "https://two:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: one, user: u, namespace: ns-a}
- name: b
  context: {cluster: two}
current-context: a
)";

TEST(Kubeconfig, ContextOverride) {
  auto current = parseKubeconfig(kTwoContexts, "", "/x", "/x/config");
  EXPECT_EQ(current.contextName, "a");
  EXPECT_EQ(current.server, "https://one:6443");
  EXPECT_EQ(current.token, "t");
  EXPECT_EQ(current.defaultNamespace, "ns-a");

  auto other = parseKubeconfig(kTwoContexts, "b", "/x", "/x/config");
  EXPECT_EQ(other.contextName, "b");
  EXPECT_EQ(other.server, "https://two:6443");
  EXPECT_EQ(other.token, "");  // no user: no credentials
  EXPECT_EQ(other.defaultNamespace, "default");
}

TEST(Kubeconfig, MissingContextListsTheAvailableOnes) {
  EXPECT_EQ(parseError(kTwoContexts, "foo"),
            "kubeconfig /x/config: context \"foo\" not found (contexts: a, b)");
  EXPECT_EQ(parseError("clusters: []\n", "foo"),
            "kubeconfig /x/config: context \"foo\" not found (no contexts are defined)");
  EXPECT_EQ(parseError("contexts:\n- name: a\n  context: {cluster: c}\n"),
            "kubeconfig /x/config: no current-context is set and no context was given "
            "(contexts: a)");
}

TEST(Kubeconfig, MissingClusterOrUser) {
  EXPECT_EQ(parseError("contexts:\n- name: a\n  context: {cluster: nope}\ncurrent-context: a\n"),
            "kubeconfig /x/config: context \"a\": cluster \"nope\" not found (no clusters are "
            "defined)");
  EXPECT_EQ(parseError("contexts:\n- name: a\n  context: {user: u}\ncurrent-context: a\n"),
            "kubeconfig /x/config: context \"a\": cluster is empty");
  std::string noUser = kubeconfig("", "");
  noUser.replace(noUser.find("user: u\n"), 8, "user: v\n");
  EXPECT_EQ(parseError(noUser),
            "kubeconfig /x/config: context \"ctx\": user \"v\" not found (users: u)");
}

TEST(Kubeconfig, MergesFilesLikeKubectl) {
  TempDir dir;
  const std::string first = dir.write("one/config", R"(
clusters:
- name: shared
  cluster: {server: "https://first:6443"}
contexts:
- name: main
  context: {cluster: shared, user: second-user}
current-context: main
)");
  dir.write("two/ca.crt", pairA().certPem);
  const std::string second = dir.write("two/config", R"(
clusters:
- name: shared
  cluster: {server: "https://ignored:6443"}
- name: own
  cluster: {server: "https://second:6443", certificate-authority: ca.crt}
users:
- name: second-user
  user: {token: from-second}
contexts:
- name: main
  context: {cluster: own}
- name: other
  context: {cluster: own, namespace: ns2}
current-context: other
)");
  // The first file to define a name wins, and so does its current-context;
  // a context may use a user defined in another file.
  auto cfg = loadKubeconfig({first, second});
  EXPECT_EQ(cfg.contextName, "main");
  EXPECT_EQ(cfg.server, "https://first:6443");
  EXPECT_EQ(cfg.token, "from-second");

  // Relative paths follow the file that defined the cluster.
  auto other = loadKubeconfig({first, second}, "other");
  EXPECT_EQ(other.server, "https://second:6443");
  EXPECT_EQ(other.caFile, dir.path() + "/two/ca.crt");
  EXPECT_EQ(other.defaultNamespace, "ns2");

  // In the other order the second file's choices win.
  auto reversed = loadKubeconfig({second, first});
  EXPECT_EQ(reversed.contextName, "other");
  EXPECT_EQ(reversed.server, "https://second:6443");

  // current-context comes from the first file that sets one.
  const std::string noCurrent =
      dir.write("three/config", "clusters:\n- name: x\n  cluster: {server: \"https://x\"}\n");
  EXPECT_EQ(loadKubeconfig({noCurrent, second}).contextName, "other");

  EXPECT_CONTAINS(configError([&] {
                    loadKubeconfig({first, second}, "nope");
                  }),
                  "kubeconfig " + first + ", " + second +
                      ": context \"nope\" not found (contexts: main, other)");
}

TEST(Kubeconfig, DuplicateNameInOneFileIsRefused) {
  EXPECT_EQ(parseError("clusters:\n- name: c\n  cluster: {server: \"https://a\"}\n"
                       "- name: c\n  cluster: {server: \"https://b\"}\n"),
            "kubeconfig /x/config: clusters: duplicate name \"c\"");
}

TEST(Kubeconfig, InsecureSkipTlsVerifyIsRefused) {
  const std::string msg = parseError(kubeconfig("    insecure-skip-tls-verify: true\n", ""));
  EXPECT_CONTAINS(msg, "kubeconfig /x/config: cluster \"c\": insecure-skip-tls-verify is true");
  EXPECT_CONTAINS(msg, "TLS verification cannot be switched off");
  // false is harmless.
  EXPECT_EQ(parseError(kubeconfig("    insecure-skip-tls-verify: false\n", "")), "");
}

TEST(Kubeconfig, UnsupportedAuthIsRefused) {
  const std::string exec = parseError(kubeconfig(
      "", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n"));
  EXPECT_CONTAINS(exec, "kubeconfig /x/config: user \"u\": exec is set");
  EXPECT_CONTAINS(exec, "credential plugin");
  EXPECT_CONTAINS(exec, "not supported");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    auth-provider: {name: gcp}\n")),
                  "user \"u\": auth-provider is set");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    username: admin\n    password: secret\n")),
                  "user \"u\": username is set");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    password: secret\n")),
                  "user \"u\": password is set");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    token: t\n    as: someone\n")),
                  "user \"u\": as is set, but impersonation is not supported");
}

TEST(Kubeconfig, MalformedYaml) {
  EXPECT_CONTAINS(parseError("clusters: [\n  - name: c\n"),
                  "kubeconfig /x/config: not valid YAML: ");
  EXPECT_CONTAINS(parseError("current-context: a: b\n"), "kubeconfig /x/config: not valid YAML: ");
  EXPECT_EQ(parseError("- a\n- b\n"),
            "kubeconfig /x/config: not a kubeconfig: expected a YAML map at the top level");
  EXPECT_EQ(parseError("clusters: 5\n"), "kubeconfig /x/config: clusters must be a list");
  EXPECT_EQ(parseError("clusters:\n- cluster: {server: \"https://a\"}\n"),
            "kubeconfig /x/config: clusters[0]: name is missing");
  EXPECT_EQ(parseError("clusters:\n- name: c\n  cluster: [1]\n"),
            "kubeconfig /x/config: clusters[0] (\"c\"): cluster must be a map");
  EXPECT_EQ(parseError(kubeconfig("", "    token: [a, b]\n")),
            "kubeconfig /x/config: user \"u\": token must be a string");
  EXPECT_EQ(parseError(kubeconfig("    insecure-skip-tls-verify: maybe\n", "")),
            "kubeconfig /x/config: cluster \"c\": insecure-skip-tls-verify must be true or false");
}

TEST(Kubeconfig, BadBase64AndBadPem) {
  const std::string key = "\n    client-key-data: " + b64(pairA().keyPem) + "\n";
  EXPECT_CONTAINS(parseError(kubeconfig("", "    client-certificate-data: \"!!!!\"" + key)),
                  "kubeconfig /x/config: user \"u\": client-certificate-data is not valid base64");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    client-certificate-data: QUJD=" + key)),
                  "client-certificate-data is not valid base64 (length 5 is not a multiple of 4)");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    client-certificate-data: QU=D" + key)),
                  "client-certificate-data is not valid base64");
  EXPECT_CONTAINS(parseError(kubeconfig("    certificate-authority-data: QUJD*===\n", "")),
                  "cluster \"c\": certificate-authority-data is not valid base64");
  // Valid base64 of something that is not PEM.
  EXPECT_EQ(parseError(kubeconfig("    certificate-authority-data: " + b64("hello") + "\n", "")),
            "kubeconfig /x/config: cluster \"c\": certificate-authority-data holds no PEM "
            "certificate");
  EXPECT_CONTAINS(parseError(kubeconfig("", "    client-certificate-data: " + b64(pairA().certPem) +
                                                "\n    client-key-data: " + b64("nope") + "\n")),
                  "user \"u\": client-key-data holds no PEM private key");
}

TEST(Kubeconfig, CertificateAndKeyMustPair) {
  EXPECT_EQ(parseError(kubeconfig("", "    client-certificate-data: " + b64(pairA().certPem) +
                                          "\n    client-key-data: " + b64(pairB().keyPem) + "\n")),
            "kubeconfig /x/config: user \"u\": the client certificate and client key do not match");
  EXPECT_EQ(
      parseError(kubeconfig("", "    client-certificate-data: " + b64(pairA().certPem) + "\n")),
      "kubeconfig /x/config: user \"u\": client-certificate is given without "
      "client-key(-data)");
  EXPECT_EQ(parseError(kubeconfig("", "    client-key-data: " + b64(pairA().keyPem) + "\n")),
            "kubeconfig /x/config: user \"u\": client-key is given without "
            "client-certificate(-data)");
}

TEST(Kubeconfig, ServerMustBeHttps) {
  EXPECT_EQ(parseError(kubeconfig("", "", "http://api:8080")),
            "kubeconfig /x/config: cluster \"c\": server http://api:8080 uses plain HTTP, which "
            "is not supported (kubec2 always uses TLS)");
  EXPECT_CONTAINS(parseError(kubeconfig("", "", "HTTP://api:8080")), "plain HTTP");
  EXPECT_EQ(parseError(kubeconfig("", "", "api:6443")),
            "kubeconfig /x/config: cluster \"c\": server \"api:6443\" must be an https:// URL");
  EXPECT_EQ(parseError(kubeconfig("", "", "\"\"")),
            "kubeconfig /x/config: cluster \"c\": server is empty");
  EXPECT_EQ(parseError(kubeconfig("    proxy-url: http://proxy:3128\n", "")),
            "kubeconfig /x/config: cluster \"c\": proxy-url is not supported");
}

TEST(Kubeconfig, MissingFilesAreNamed) {
  TempDir dir;
  const std::string missing = dir.path() + "/nope/config";
  EXPECT_EQ(configError([&] { loadKubeconfig({missing}); }),
            "kubeconfig " + missing + ": file does not exist");
  EXPECT_EQ(configError([] { loadKubeconfig({}); }), "no kubeconfig file given");
  const std::string config =
      dir.write("config", kubeconfig("    certificate-authority: ca.crt\n", ""));
  EXPECT_EQ(configError([&] { loadKubeconfig({config}); }),
            "kubeconfig " + config + ": cluster \"c\": certificate-authority: file " + dir.path() +
                "/ca.crt does not exist");
  const std::string withTokenFile = dir.write("config2", kubeconfig("", "    tokenFile: tok\n"));
  EXPECT_EQ(configError([&] { loadKubeconfig({withTokenFile}); }),
            "kubeconfig " + withTokenFile + ": user \"u\": tokenFile: file " + dir.path() +
                "/tok does not exist");
}

TEST(Kubeconfig, EmptyFileAddsNothing) {
  TempDir dir;
  const std::string empty = dir.write("empty", "");
  const std::string real = dir.write("config", kubeconfig("", ""));
  EXPECT_EQ(loadKubeconfig({empty, real}).contextName, "ctx");
  EXPECT_CONTAINS(configError([&] { loadKubeconfig({empty}); }),
                  "no current-context is set and no context was given");
}

// ----------------------------------------------------------------- in-cluster

class InClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    env.set("KUBERNETES_SERVICE_PORT", "443");
    dir.write("sa/token", "sa-token\n");
    dir.write("sa/ca.crt", pairA().certPem);
    dir.write("sa/namespace", "kubec2-system\n");
  }
  std::string sa() const { return dir.path() + "/sa"; }

  EnvGuard env;
  TempDir dir;
};

TEST_F(InClusterTest, ReadsServiceAccountFiles) {
  auto cfg = inClusterConfig(sa());
  EXPECT_EQ(cfg.server, "https://10.96.0.1:443");
  EXPECT_EQ(cfg.tokenFile, sa() + "/token");
  EXPECT_EQ(cfg.token, "sa-token");
  EXPECT_EQ(cfg.caFile, sa() + "/ca.crt");
  EXPECT_EQ(cfg.caPem, pairA().certPem);
  EXPECT_EQ(cfg.defaultNamespace, "kubec2-system");
  EXPECT_EQ(cfg.contextName, "in-cluster");
}

TEST_F(InClusterTest, Ipv6HostGetsBrackets) {
  env.set("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
  env.set("KUBERNETES_SERVICE_PORT", "6443");
  EXPECT_EQ(inClusterConfig(sa()).server, "https://[fd00:10:96::1]:6443");
}

TEST_F(InClusterTest, NamespaceDefaultsWhenFileIsMissing) {
  fs::remove(sa() + "/namespace");
  EXPECT_EQ(inClusterConfig(sa()).defaultNamespace, "default");
}

TEST_F(InClusterTest, Errors) {
  env.unset("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(configError([&] { inClusterConfig(sa()); }),
            "not running in a cluster: KUBERNETES_SERVICE_HOST is not set");
  env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  env.unset("KUBERNETES_SERVICE_PORT");
  EXPECT_CONTAINS(configError([&] { inClusterConfig(sa()); }), "KUBERNETES_SERVICE_PORT is not");
  env.set("KUBERNETES_SERVICE_PORT", "https");
  EXPECT_EQ(configError([&] { inClusterConfig(sa()); }),
            "in-cluster config: KUBERNETES_SERVICE_PORT \"https\" is not a port number");
  env.set("KUBERNETES_SERVICE_PORT", "443");

  dir.write("sa/token", " \n");
  EXPECT_EQ(configError([&] { inClusterConfig(sa()); }),
            "in-cluster config: service account token: token file " + sa() + "/token is empty");
  fs::remove(sa() + "/token");
  EXPECT_EQ(configError([&] { inClusterConfig(sa()); }),
            "in-cluster config: service account token: file " + sa() + "/token does not exist");
  dir.write("sa/token", "t");
  dir.write("sa/ca.crt", "not a certificate");
  EXPECT_CONTAINS(configError([&] { inClusterConfig(sa()); }), "holds no PEM certificate");
}

// ------------------------------------------------------------------ loadConfig

class LoadConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.unset("KUBECONFIG");
    env.unset("KUBERNETES_SERVICE_HOST");
    env.unset("KUBERNETES_SERVICE_PORT");
    env.set("HOME", dir.path() + "/home");
  }
  std::string config(const std::string& rel, const std::string& server) const {
    return dir.write(rel, kubeconfig("", "", server));
  }

  EnvGuard env;
  TempDir dir;
};

TEST_F(LoadConfigTest, FlagBeatsEverything) {
  env.set("KUBECONFIG", config("env", "https://env"));
  env.set("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  config("home/.kube/config", "https://home");
  EXPECT_EQ(loadConfig(config("flag", "https://flag"), "").server, "https://flag");
}

TEST_F(LoadConfigTest, KubeconfigEnvSkipsMissingAndEmptyEntries) {
  const std::string a = config("a", "https://a");
  const std::string b = dir.write("b", R"(
clusters:
- name: cb
  cluster: {server: "https://b"}
contexts:
- name: only-b
  context: {cluster: cb}
)");
  env.set("KUBECONFIG", dir.path() + "/missing::" + a + ":" + b + ":");
  env.set("KUBERNETES_SERVICE_HOST", "10.0.0.1");  // KUBECONFIG still wins
  EXPECT_EQ(loadConfig("", "").server, "https://a");
  EXPECT_EQ(loadConfig("", "only-b").server, "https://b");  // merged
}

TEST_F(LoadConfigTest, KubeconfigEnvWithNoExistingFileIsAnError) {
  env.set("KUBECONFIG", dir.path() + "/x:" + dir.path() + "/y");
  config("home/.kube/config", "https://home");
  EXPECT_EQ(configError([] { loadConfig("", ""); }),
            "KUBECONFIG=" + dir.path() + "/x:" + dir.path() + "/y: no such file: " + dir.path() +
                "/x, " + dir.path() + "/y");
}

TEST_F(LoadConfigTest, InClusterBeatsHome) {
  config("home/.kube/config", "https://home");
  env.set("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  // A bad port fails before any service-account file is read, which shows the
  // in-cluster path was taken without depending on this machine's files.
  env.set("KUBERNETES_SERVICE_PORT", "bad");
  EXPECT_EQ(configError([] { loadConfig("", ""); }),
            "in-cluster config: KUBERNETES_SERVICE_PORT \"bad\" is not a port number");
  EXPECT_CONTAINS(configError([] { loadConfig("", "ctx"); }),
                  "context \"ctx\" was given, but there is no kubeconfig");
}

TEST_F(LoadConfigTest, HomeKubeConfigLast) {
  config("home/.kube/config", "https://home");
  EXPECT_EQ(loadConfig("", "").server, "https://home");
  EXPECT_EQ(loadConfig("", "ctx").contextName, "ctx");
}

TEST_F(LoadConfigTest, NothingFound) {
  EXPECT_EQ(configError([] { loadConfig("", ""); }),
            "no configuration found: no --kubeconfig, KUBECONFIG is not set, not running in a "
            "cluster (KUBERNETES_SERVICE_HOST is not set), and " +
                dir.path() + "/home/.kube/config does not exist");
}

}  // namespace
}  // namespace kube
