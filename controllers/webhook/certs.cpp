#include "controllers/webhook/certs.h"

#include "runtime/base64.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "runtime/errors.h"
#include "runtime/log.h"

namespace kubec2::webhook {
namespace {

using nlohmann::json;

const kube::Resource kSecrets{"", "v1", "secrets", true, "Secret"};
const kube::Resource kValidatingConfigs{"admissionregistration.k8s.io", "v1",
                                        "validatingwebhookconfigurations", false,
                                        "ValidatingWebhookConfiguration"};
const kube::Resource kMutatingConfigs{"admissionregistration.k8s.io", "v1",
                                      "mutatingwebhookconfigurations", false,
                                      "MutatingWebhookConfiguration"};

// OpenSSL objects freed on scope exit.
struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;
using Bio = std::unique_ptr<BIO, Deleter>;

[[noreturn]] void fail(const std::string& what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw std::runtime_error(what + ": " + buf);
}

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Key newKey() {
  Key k(EVP_EC_gen("P-256"));
  if (!k) fail("generating an EC P-256 key");
  return k;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("building certificate extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// issuer/issuerKey null: self-signed.
Cert newCert(EVP_PKEY* key, const std::string& commonName, X509* issuer, EVP_PKEY* issuerKey,
             std::chrono::system_clock::time_point now, std::chrono::hours validity, bool isCa,
             const std::vector<std::string>& hosts) {
  Cert c(X509_new());
  if (!c) fail("allocating a certificate");
  X509_set_version(c.get(), 2);
  std::unique_ptr<BIGNUM, Deleter> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c.get())))
    fail("choosing a serial number");
  // An hour of slack for clocks behind ours.
  const time_t from = std::chrono::system_clock::to_time_t(now - std::chrono::hours(1));
  const time_t to = std::chrono::system_clock::to_time_t(now + validity);
  if (!ASN1_TIME_set(X509_getm_notBefore(c.get()), from) ||
      !ASN1_TIME_set(X509_getm_notAfter(c.get()), to))
    fail("setting the validity period");
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : c.get();
  addExtension(c.get(), signer, NID_subject_key_identifier, "hash");
  addExtension(c.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (isCa) {
    addExtension(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    addExtension(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(c.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    addExtension(c.get(), signer, NID_ext_key_usage, "serverAuth");
    std::string san;
    for (const auto& h : hosts)
      san += (san.empty() ? "" : ",") + std::string(isIpAddress(h) ? "IP:" : "DNS:") + h;
    if (!san.empty()) addExtension(c.get(), signer, NID_subject_alt_name, san);
  }
  if (X509_sign(c.get(), issuerKey ? issuerKey : key, EVP_sha256()) == 0) fail("signing");
  return c;
}

std::string pem(X509* c) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_X509(b.get(), c) != 1) fail("writing a certificate");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pem(EVP_PKEY* k) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("writing a private key");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Cert readCert(const std::string& text) {
  Bio b(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  Cert c(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return c;
}

Key readKey(const std::string& text) {
  Bio b(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  Key k(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return k;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::chrono::system_clock::time_point modified(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot read " + path);
  return std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                               std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

json secretFor(const std::string& ns, const std::string& name, const SelfSignedCerts& c) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels",
             {{"app.kubernetes.io/name", "kubec2"}, {"app.kubernetes.io/component", "webhook"}}}}},
          {"type", "kubernetes.io/tls"},
          {"data",
           {{"ca.crt", kube::base64Encode(c.caPem)},
            {"tls.crt", kube::base64Encode(c.serving.certPem)},
            {"tls.key", kube::base64Encode(c.serving.keyPem)}}}};
}

SelfSignedCerts certsOf(const json& secret) {
  SelfSignedCerts c;
  const json data = secret.value("data", json::object());
  if (!data.is_object()) return c;
  auto field = [&](const char* k) {
    return data.contains(k) && data[k].is_string()
               ? kube::base64Decode(data[k].get<std::string>()).value_or("")
               : "";
  };
  c.caPem = field("ca.crt");
  c.serving.certPem = field("tls.crt");
  c.serving.keyPem = field("tls.key");
  return c;
}

}  // namespace

SelfSignedCerts generateSelfSigned(const std::vector<std::string>& hosts,
                                   std::chrono::system_clock::time_point now,
                                   std::chrono::hours caValidity,
                                   std::chrono::hours servingValidity) {
  Key caKey = newKey();
  Cert ca = newCert(caKey.get(), "kubec2-webhook-ca", nullptr, nullptr, now, caValidity, true, {});
  Key key = newKey();
  const std::string cn = hosts.empty() ? "kubec2-webhook" : hosts.front();
  Cert leaf = newCert(key.get(), cn, ca.get(), caKey.get(), now, servingValidity, false, hosts);
  return {pem(ca.get()), {pem(leaf.get()), pem(key.get())}};
}

bool usableUntilRenewal(const SelfSignedCerts& certs, const std::vector<std::string>& hosts,
                        std::chrono::system_clock::time_point at, std::chrono::hours renewBefore) {
  Cert ca = readCert(certs.caPem);
  Cert leaf = readCert(certs.serving.certPem);
  Key key = readKey(certs.serving.keyPem);
  if (!ca || !leaf || !key) return false;
  if (X509_check_private_key(leaf.get(), key.get()) != 1) return false;
  EVP_PKEY* caPub = X509_get0_pubkey(ca.get());
  if (!caPub || X509_verify(leaf.get(), caPub) != 1) {
    ERR_clear_error();
    return false;
  }
  time_t now = std::chrono::system_clock::to_time_t(at);
  time_t renewAt = std::chrono::system_clock::to_time_t(at + renewBefore);
  for (X509* c : {ca.get(), leaf.get()}) {
    if (X509_cmp_time(X509_get0_notBefore(c), &now) > 0) return false;
    if (X509_cmp_time(X509_get0_notAfter(c), &renewAt) <= 0) return false;
  }
  for (const auto& h : hosts) {
    const int ok = isIpAddress(h) ? X509_check_ip_asc(leaf.get(), h.c_str(), 0)
                                  : X509_check_host(leaf.get(), h.c_str(), h.size(), 0, nullptr);
    if (ok != 1) return false;
  }
  return true;
}

SelfSignedCerts ensureCertSecret(kube::Client& client, const std::string& ns,
                                 const std::string& name, const std::vector<std::string>& hosts,
                                 std::chrono::system_clock::time_point now) {
  for (int attempt = 0;; ++attempt) {
    std::optional<json> existing;
    try {
      existing = client.get(kSecrets, ns, name);
    } catch (const kube::ApiError& e) {
      if (!e.isNotFound()) throw;
    }
    if (existing) {
      SelfSignedCerts held = certsOf(*existing);
      if (usableUntilRenewal(held, hosts, now)) return held;
    }
    SelfSignedCerts fresh = generateSelfSigned(hosts, now);
    json secret = secretFor(ns, name, fresh);
    try {
      if (existing) {
        secret["metadata"]["resourceVersion"] = (*existing)["metadata"]["resourceVersion"];
        client.update(kSecrets, ns, secret);
        kube::log::info("Renewed the webhook's self-signed certificates",
                        {{"secret", ns + "/" + name}});
      } else {
        client.create(kSecrets, ns, secret);
        kube::log::info("Created the webhook's self-signed certificates",
                        {{"secret", ns + "/" + name}});
      }
      return fresh;
    } catch (const kube::ApiError& e) {
      // Another replica wrote first: use what it wrote.
      if (!(e.isConflict() || e.isAlreadyExists()) || attempt >= 3) throw;
    }
  }
}

int injectCaBundle(kube::Client& client, const std::string& configName, const std::string& caPem) {
  const std::string bundle = kube::base64Encode(caPem);
  int found = 0;
  for (const kube::Resource* r : {&kValidatingConfigs, &kMutatingConfigs}) {
    for (int attempt = 0;; ++attempt) {
      json cfg;
      try {
        cfg = client.get(*r, "", configName);
      } catch (const kube::ApiError& e) {
        if (e.isNotFound()) break;
        throw;
      }
      if (attempt == 0) ++found;
      bool changed = false;
      if (cfg.contains("webhooks") && cfg["webhooks"].is_array()) {
        for (auto& w : cfg["webhooks"]) {
          auto& cc = w["clientConfig"];
          if (cc.value("caBundle", "") != bundle) {
            cc["caBundle"] = bundle;
            changed = true;
          }
        }
      }
      if (!changed) break;
      try {
        client.update(*r, "", cfg);
        kube::log::info("Wrote the webhook CA into its configuration",
                        {{"kind", r->kind}, {"name", configName}});
        break;
      } catch (const kube::ApiError& e) {
        if (!e.isConflict() || attempt >= 5) throw;
      }
    }
  }
  return found;
}

CertFiles::CertFiles(std::string dir) : dir_(std::move(dir)) {}

ServingCert CertFiles::current() {
  const std::string certPath = dir_ + "/tls.crt", keyPath = dir_ + "/tls.key";
  std::lock_guard lock(mu_);
  const auto ct = modified(certPath), kt = modified(keyPath);
  if (ct != certTime_ || kt != keyTime_ || cached_.certPem.empty()) {
    ServingCert c{readFile(certPath), readFile(keyPath)};
    if (!readCert(c.certPem)) throw std::runtime_error(certPath + " holds no PEM certificate");
    Key k = readKey(c.keyPem);
    if (!k) throw std::runtime_error(keyPath + " holds no PEM private key");
    if (X509_check_private_key(readCert(c.certPem).get(), k.get()) != 1) {
      ERR_clear_error();
      throw std::runtime_error(keyPath + " is not the key of " + certPath);
    }
    cached_ = std::move(c);
    certTime_ = ct;
    keyTime_ = kt;
  }
  return cached_;
}

}  // namespace kubec2::webhook
