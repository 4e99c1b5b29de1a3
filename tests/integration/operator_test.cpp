// The operator binary as a user runs it: bad configuration at start-up is one
// clear error and a non-zero exit, never a hang; against the real control
// plane it becomes ready, leads, serves metrics, and on SIGTERM stops with
// exit 0 and gives its Lease up.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"

#ifndef KUBEC2_OPERATOR_BIN
#error "KUBEC2_OPERATOR_BIN must name the operator binary"
#endif

namespace kube::testing {
namespace {

using namespace std::chrono_literals;

const Resource kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};

std::string tempDir() {
  std::string t = "/tmp/kubec2-op-XXXXXX";
  if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp");
  return t;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A port nobody listens on now (the kernel's choice for port 0).
int freePort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

size_t append(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// GET over plain HTTP: {status, body}; status 0 when nothing answers.
std::pair<long, std::string> httpGet(const std::string& url) {
  CURL* c = curl_easy_init();
  std::string body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return {code, body};
}

// A kubeconfig with one cluster and one token user.
std::string kubeconfig(const std::string& server, const std::string& clusterExtra,
                       const std::string& token) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
         "\n" + clusterExtra + "users:\n- name: u\n  user:\n    token: " + token +
         "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
}

class OperatorBinary : public ::testing::Test {
 protected:
  std::string dir = tempDir();
  RestConfig admin = adminConfig();
  std::string caLine = "    certificate-authority-data: " + base64(admin.caPem) + "\n";

  static std::string base64(const std::string& s) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
      const unsigned v = (static_cast<unsigned char>(s[i]) << 16) |
                         (static_cast<unsigned char>(s[i + 1]) << 8) |
                         static_cast<unsigned char>(s[i + 2]);
      for (int k = 18; k >= 0; k -= 6) out += t[(v >> k) & 63];
    }
    if (i < s.size()) {
      unsigned v = static_cast<unsigned char>(s[i]) << 16;
      if (i + 1 < s.size()) v |= static_cast<unsigned>(static_cast<unsigned char>(s[i + 1])) << 8u;
      out += t[(v >> 18) & 63];
      out += t[(v >> 12) & 63];
      out += i + 1 < s.size() ? t[(v >> 6) & 63] : '=';
      out += '=';
    }
    return out;
  }

  // Runs the operator on `config` with the given extra flags; returns its exit
  // code and output. A run still going after 60 s is a hang: the test fails.
  std::pair<int, std::string> runToExit(const std::string& config,
                                        std::vector<std::string> extra = {}) {
    const std::string path = dir + "/kubeconfig-" + std::to_string(++runs_);
    writeFile(path, config);
    std::vector<std::string> argv = {KUBEC2_OPERATOR_BIN,
                                     "--kubeconfig",
                                     path,
                                     "--metrics-bind-address",
                                     "0",
                                     "--health-probe-bind-address",
                                     "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ChildProcess p(argv, dir + "/out-" + std::to_string(runs_));
    auto code = p.wait(60s);
    EXPECT_TRUE(code.has_value()) << "the operator hangs on a bad configuration";
    return {code.value_or(-1), p.output()};
  }

 private:
  int runs_ = 0;
};

TEST_F(OperatorBinary, MalformedKubeconfigExitsNamingTheFile) {
  auto [code, out] = runToExit("clusters: [ {server: \n  - ]]");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("kubeconfig-1"), std::string::npos) << out;
}

TEST_F(OperatorBinary, UnreachableServerExitsNamingTheServer) {
  auto [code, out] = runToExit(kubeconfig("https://127.0.0.1:1", caLine, "t"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("cannot reach the API server at https://127.0.0.1:1"), std::string::npos)
      << out;
}

TEST_F(OperatorBinary, RejectedTokenExitsSayingUnauthorized) {
  auto [code, out] = runToExit(kubeconfig(admin.server, caLine, "expired-or-revoked"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("Unauthorized"), std::string::npos) << out;
}

TEST_F(OperatorBinary, UntrustedServerCertificateIsATlsErrorNotAFallback) {
  // A valid certificate, but not the CA that signed the API server's.
  const std::string wrongCa =
      "    certificate-authority-data: " + base64(admin.clientCertPem) + "\n";
  auto [code, out] = runToExit(kubeconfig(admin.server, wrongCa, "t"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("TLS"), std::string::npos) << out;
}

TEST_F(OperatorBinary, InsecureSkipTlsVerifyIsRefused) {
  auto [code, out] =
      runToExit(kubeconfig(admin.server, "    insecure-skip-tls-verify: true\n", "t"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("insecure-skip-tls-verify"), std::string::npos) << out;
}

TEST_F(OperatorBinary, UnknownFlagIsAUsageError) {
  auto [code, out] = runToExit(kubeconfig(admin.server, caLine, "t"), {"--no-such-flag"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("no-such-flag"), std::string::npos) << out;
}

TEST_F(OperatorBinary, BusyWebhookPortFailsStartUpNamingTheFlag) {
  RestClient client(admin);
  const std::string ns = createNamespace(client, "busy-webhook");
  // Someone else listens on the webhook's port.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  ChildProcess op(
      {KUBEC2_OPERATOR_BIN, "--kubeconfig", ControlPlaneEnvironment::get().kubeconfig(),
       "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--webhook-bind-address",
       address, "--webhook-hosts", "127.0.0.1", "--webhook-secret-namespace", ns,
       "--webhook-configuration-name", "busy-webhook-test"},
      dir + "/busy-webhook.log");
  const auto code = op.wait(60s);
  ::close(s);
  ASSERT_TRUE(code.has_value()) << "the operator hangs on a busy webhook port\n" << op.output();
  EXPECT_EQ(*code, 1) << op.output();
  EXPECT_NE(op.output().find("kubec2-operator: webhook-server: --webhook-bind-address " + address +
                             ": cannot listen"),
            std::string::npos)
      << op.output();
}

TEST_F(OperatorBinary, BecomesReadyLeadsServesMetricsAndReleasesTheLeaseOnSigterm) {
  RestClient client(admin);
  const std::string ns = createNamespace(client, "operator");
  const int health = freePort();
  const int metrics = freePort();
  const std::vector<std::string> argv = {KUBEC2_OPERATOR_BIN,
                                         "--kubeconfig",
                                         ControlPlaneEnvironment::get().kubeconfig(),
                                         "--leader-elect",
                                         "--leader-election-namespace",
                                         ns,
                                         "--health-probe-bind-address",
                                         "127.0.0.1:" + std::to_string(health),
                                         "--metrics-bind-address",
                                         "127.0.0.1:" + std::to_string(metrics)};
  ChildProcess op(argv, dir + "/operator.log");
  const std::string base = "http://127.0.0.1:";
  ASSERT_TRUE(eventually([&] {
    return httpGet(base + std::to_string(health) + "/readyz").first == 200;
  })) << op.output();
  EXPECT_EQ(httpGet(base + std::to_string(health) + "/healthz").first, 200);
  std::string holder;
  ASSERT_TRUE(eventually([&] {
    try {
      holder = client.get(kLeases, ns, "kubec2-operator")["spec"].value("holderIdentity", "");
    } catch (const ApiError&) {
      return false;
    }
    return !holder.empty();
  })) << op.output();
  const auto [mcode, mbody] = httpGet(base + std::to_string(metrics) + "/metrics");
  EXPECT_EQ(mcode, 200);
  EXPECT_NE(mbody.find("rest_client_requests_total{"), std::string::npos);

  op.signal(SIGTERM);
  const auto code = op.wait(30s);
  ASSERT_TRUE(code.has_value()) << "no graceful stop within 30 s of SIGTERM\n" << op.output();
  EXPECT_EQ(*code, 0) << op.output();
  // Released: the next replica need not wait out the lease duration.
  const auto lease = client.get(kLeases, ns, "kubec2-operator");
  EXPECT_EQ(lease["spec"].value("holderIdentity", ""), "") << lease.dump();
}

}  // namespace
}  // namespace kube::testing
