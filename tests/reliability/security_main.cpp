// main() of reliability_security: a control plane whose kube-apiserver
// writes an audit log of the operator's ServiceAccount's requests and calls
// admission webhooks with a client certificate (its
// --admission-control-config-file), made here before it starts.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "runtime/http_transport.h"
#include "tests/integration/control_plane.h"
#include "tests/integration/crds.h"
#include "tests/integration/helpers.h"
#include "tests/reliability/security_env.h"

namespace kube::testing::security {
namespace {

Files gFiles;

void sh(const std::string& cmd) {
  if (std::system(("set -e; " + cmd + " 2>/dev/null").c_str()) != 0)
    throw std::runtime_error("failed: " + cmd);
}

// NAME.key, NAME.crt: an EC CA when `issuer` is empty, else a client
// certificate signed by the CA `issuer`.
void cert(const std::string& dir, const std::string& name, const std::string& cn,
          const std::string& issuer) {
  const std::string base =
      "cd '" + dir + "'; openssl ecparam -name prime256v1 -genkey -noout -out " + name + ".key; ";
  if (issuer.empty()) {
    sh(base + "openssl req -x509 -new -key " + name + ".key -sha256 -days 2 -subj /CN=" + cn +
       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out " +
       name + ".crt");
  } else {
    sh(base + "openssl req -new -key " + name + ".key -subj /CN=" + cn + " -out " + name +
       ".csr; printf 'extendedKeyUsage=clientAuth\\nkeyUsage=critical,digitalSignature\\n' > " +
       name + ".ext; openssl x509 -req -in " + name + ".csr -CA " + issuer + ".crt -CAkey " +
       issuer + ".key -CAcreateserial -sha256 -days 2 -extfile " + name + ".ext -out " + name +
       ".crt");
  }
}

Files prepare() {
  std::string dir = "/tmp/kubec2-security-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp");
  Files f;
  f.dir = dir;
  // The CA the webhook trusts for callers, the API server's client
  // certificate from it, and an intruder's CA and certificate.
  cert(dir, "webhook-client-ca", "kubec2-webhook-client-ca", "");
  cert(dir, "apiserver-webhook-client", "kube-apiserver-webhook-client", "webhook-client-ca");
  cert(dir, "other-ca", "someone-else-ca", "");
  cert(dir, "intruder", "kube-apiserver-webhook-client", "other-ca");
  // Prometheus's stand-in: a self-signed server certificate nobody trusts.
  sh("cd '" + dir +
     "'; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
     "prometheus.key -out prometheus.crt -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
     "-days 2");
  f.clientCa = dir + "/webhook-client-ca.crt";
  f.auditLog = dir + "/audit.log";

  // Audit: every request of the operator's ServiceAccount, metadata only
  // (no bodies: the audit log itself carries no Secret data).
  std::ofstream(dir + "/audit-policy.yaml")
      << "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
         "  - level: Metadata\n    users: [\"system:serviceaccount:kubec2-system:kubec2\"]\n"
         "  - level: None\n";
  // Admission webhooks are called with this client certificate, whatever
  // their host ("*").
  std::ofstream(dir + "/webhook-client.kubeconfig")
      << "apiVersion: v1\nkind: Config\nusers:\n  - name: \"*\"\n    user:\n"
         "      client-certificate: "
      << dir << "/apiserver-webhook-client.crt\n      client-key: " << dir
      << "/apiserver-webhook-client.key\n";
  std::ofstream(dir + "/admission.yaml")
      << "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
      << "  - name: ValidatingAdmissionWebhook\n    configuration:\n"
         "      apiVersion: apiserver.config.k8s.io/v1\n      kind: WebhookAdmissionConfiguration\n"
         "      kubeConfigFile: "
      << dir << "/webhook-client.kubeconfig\n"
      << "  - name: MutatingAdmissionWebhook\n    configuration:\n"
         "      apiVersion: apiserver.config.k8s.io/v1\n      kind: WebhookAdmissionConfiguration\n"
         "      kubeConfigFile: "
      << dir << "/webhook-client.kubeconfig\n";
  return f;
}

}  // namespace

const Files& files() {
  if (gFiles.dir.empty()) throw std::logic_error("security files not prepared");
  return gFiles;
}

}  // namespace kube::testing::security

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kube::globalInit();
  namespace sec = kube::testing::security;
  try {
    sec::gFiles = sec::prepare();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reliability_security: %s\n", e.what());
    return 1;
  }
  kube::testing::ControlPlaneOptions opts;
  // KubeVirt's real API schema (the compute CRDs come with deploy/base).
  opts.crds = kube::testing::kubevirtCrdFiles();
  const std::string& d = sec::gFiles.dir;
  opts.apiServerFlags = {"--audit-policy-file=" + d + "/audit-policy.yaml",
                         "--audit-log-path=" + sec::gFiles.auditLog,
                         "--admission-control-config-file=" + d + "/admission.yaml"};
  ::testing::AddGlobalTestEnvironment(new kube::testing::ControlPlaneEnvironment(opts));
  const int rc = RUN_ALL_TESTS();
  if (std::getenv("KEEP") == nullptr) std::filesystem::remove_all(d);
  return rc;
}
