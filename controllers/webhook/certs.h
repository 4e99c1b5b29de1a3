// Serving certificates for the admission webhook.
//
// Two sources, chosen by --webhook-cert-source:
//  - self-signed: the operator keeps a CA and a serving certificate in a
//    Secret of its namespace (created by whichever replica comes first, so
//    every replica serves the same certificate), renews them 30 days before
//    they expire, and writes the CA into its webhook configurations'
//    clientConfig.caBundle so the API server trusts it.
//  - files: tls.crt and tls.key in a folder, such as a cert-manager
//    Certificate's Secret mounted into the pod (cert-manager's CA injector
//    writes the caBundle); files are re-read when they change.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/client.h"

namespace kubec2::webhook {

struct ServingCert {
  std::string certPem;  // the leaf, then any chain
  std::string keyPem;
};

struct SelfSignedCerts {
  std::string caPem;
  ServingCert serving;
};

// A new EC P-256 CA valid for caValidity and a serving certificate for
// `hosts` (DNS names and IP addresses, as SANs) valid for servingValidity,
// both from `now`. Throws std::runtime_error when OpenSSL fails.
SelfSignedCerts generateSelfSigned(const std::vector<std::string>& hosts,
                                   std::chrono::system_clock::time_point now,
                                   std::chrono::hours caValidity = std::chrono::hours(24 * 3650),
                                   std::chrono::hours servingValidity = std::chrono::hours(24 *
                                                                                           365));

// Whether `certs` can be served at `at` without renewal: every PEM parses,
// the key matches the certificate, the CA signed it, it names every host,
// and neither expires within `renewBefore` of `at`.
bool usableUntilRenewal(const SelfSignedCerts& certs, const std::vector<std::string>& hosts,
                        std::chrono::system_clock::time_point at,
                        std::chrono::hours renewBefore = std::chrono::hours(24 * 30));

// The Secret (kubernetes.io/tls, keys ca.crt, tls.crt, tls.key) holding the
// self-signed certificates: returns what it holds when usable, otherwise
// generates new ones and writes them (create, or update with the read
// resourceVersion; on a conflict with another replica, takes the winner's).
SelfSignedCerts ensureCertSecret(kube::Client& client, const std::string& ns,
                                 const std::string& name, const std::vector<std::string>& hosts,
                                 std::chrono::system_clock::time_point now);

// Writes caPem into clientConfig.caBundle of every webhook of the
// ValidatingWebhookConfiguration and the MutatingWebhookConfiguration named
// `configName`, where it differs. Returns how many configurations exist
// (0, 1 or 2); a missing one is not an error (it may be applied later).
int injectCaBundle(kube::Client& client, const std::string& configName, const std::string& caPem);

// tls.crt and tls.key of a folder, re-read when their modification time
// changes (a rotated cert-manager Secret), so the next connection serves
// the new certificate.
class CertFiles {
 public:
  explicit CertFiles(std::string dir);
  // Throws std::runtime_error naming the file when one is missing or bad.
  ServingCert current();

 private:
  std::string dir_;
  std::mutex mu_;
  std::chrono::system_clock::time_point certTime_{}, keyTime_{};
  ServingCert cached_;
};

}  // namespace kubec2::webhook
