// cpprestsdk's headers cost seconds per translation unit: this is the only
// file that includes them.
#include "controllers/webhook/server.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_listener.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "controllers/webhook/admission.h"
#include "controllers/webhook/metrics.h"
#include "runtime/log.h"
#include "runtime/wait.h"

namespace kubec2::webhook {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using http::experimental::listener::http_listener_config;

std::string jsonError(const std::string& cause) {
  nlohmann::json j = {{"error", cause}};
  return j.dump();
}

// Reads at most `limit` + 1 bytes of the body, so an oversized one is
// refused without being held in memory.
std::optional<std::string> readBody(const http::http_request& req, size_t limit) {
  concurrency::streams::container_buffer<std::string> buf;
  auto in = req.body();
  size_t total = 0;
  for (;;) {
    const size_t n = in.read(buf, 64 * 1024).get();
    if (n == 0) break;
    total += n;
    if (total > limit) return std::nullopt;
  }
  return std::move(buf.collection());
}

}  // namespace

void checkClientCaFile(const std::string& path) {
  try {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_server);
    ctx.load_verify_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error("--webhook-client-ca-file " + path +
                             ": no PEM CA certificate could be read (" + e.what() + ")");
  }
}

struct Server::Impl {
  ServerOptions opts;
  std::unique_ptr<http_listener> listener;
};

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>()) {
  if (!opts.certs) throw std::invalid_argument("webhook server: no certificate provider");
  impl_->opts = std::move(opts);
}

Server::~Server() {
  stop();
}

void Server::start() {
  const std::string& address = impl_->opts.bindAddress;
  const auto colon = address.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("--webhook-bind-address " + address + ": want host:port");
  std::string host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  const std::string uri = "https://" + host + ":" + address.substr(colon + 1) + "/";

  http_listener_config cfg;
  cfg.set_timeout(utility::seconds(10));
  CertProvider certs = impl_->opts.certs;
  const std::string clientCa = impl_->opts.clientCaFile;
  cfg.set_ssl_context_callback([certs, clientCa](boost::asio::ssl::context& ctx) {
    // Verification on before anything can fail: a CA file that cannot be
    // read leaves no trusted CA, so every handshake fails (closed, not open).
    if (!clientCa.empty())
      ctx.set_verify_mode(boost::asio::ssl::verify_peer |
                          boost::asio::ssl::verify_fail_if_no_peer_cert);
    try {
      if (!clientCa.empty()) ctx.load_verify_file(clientCa);
    } catch (const std::exception& e) {
      kube::log::error("Webhook client CA unreadable: refusing every connection",
                       {{"file", clientCa}, {"error", e.what()}});
    }
    try {
      const ServingCert c = certs();
      ctx.set_options(boost::asio::ssl::context::default_workarounds |
                      boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                      boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
      ctx.use_certificate_chain(boost::asio::buffer(c.certPem));
      ctx.use_private_key(boost::asio::buffer(c.keyPem), boost::asio::ssl::context::pem);
    } catch (const std::exception& e) {
      kube::log::error("Webhook serving certificate unavailable", {{"error", e.what()}});
    }
  });

  try {
    impl_->listener = std::make_unique<http_listener>(utility::conversions::to_string_t(uri), cfg);
  } catch (const std::exception& e) {
    throw std::runtime_error("--webhook-bind-address " + address + ": " + e.what());
  }
  impl_->listener->support([lookups = impl_->opts.lookups](http::http_request req) {
    const std::string path = req.relative_uri().path();
    Endpoint ep;
    if (path == "/validate") {
      ep = Endpoint::Validate;
    } else if (path == "/mutate") {
      ep = Endpoint::Mutate;
    } else {
      req.reply(http::status_codes::NotFound, jsonError("no such path: " + path),
                "application/json");
      return;
    }
    // Every answer of a webhook path is counted, by its HTTP status.
    const auto started = std::chrono::steady_clock::now();
    auto& inFlight = metrics::inFlight(path);
    inFlight.Increment();
    bool answered = false;
    auto reply = [&](http::status_code code, const std::string& body) {
      answered = true;
      metrics::requests(path, code).Increment();
      metrics::latency(path).Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      inFlight.Decrement();
      req.reply(code, body, "application/json");
    };
    if (req.method() != http::methods::POST) {
      reply(http::status_codes::MethodNotAllowed, jsonError("use POST"));
      return;
    }
    try {
      if (req.headers().content_length() > kMaxReviewBytes) {
        reply(http::status_codes::RequestEntityTooLarge,
              jsonError("request body over " + std::to_string(kMaxReviewBytes) + " bytes"));
        return;
      }
      const auto body = readBody(req, kMaxReviewBytes);
      if (!body) {
        reply(http::status_codes::RequestEntityTooLarge,
              jsonError("request body over " + std::to_string(kMaxReviewBytes) + " bytes"));
        return;
      }
      const HttpAnswer a = review(ep, *body, lookups ? *lookups : api::noLookups());
      if (a.status != 200)
        kube::log::warn("Refused a malformed admission request",
                        {{"path", path}, {"status", a.status}});
      reply(static_cast<http::status_code>(a.status), a.body);
    } catch (const std::exception& e) {
      // The client went away or the body stream broke.
      kube::log::warn("Admission request failed", {{"path", path}, {"error", e.what()}});
      try {
        if (!answered) reply(http::status_codes::BadRequest, jsonError(e.what()));
      } catch (const std::exception&) {
      }
    }
  });
  try {
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    impl_->listener.reset();
    throw std::runtime_error("--webhook-bind-address " + address + ": cannot listen: " + e.what());
  }
  kube::log::info(
      "Serving the admission webhook",
      {{"address", uri},
       {"clientCertificates", impl_->opts.clientCaFile.empty()
                                  ? "not required"
                                  : "required, signed by " + impl_->opts.clientCaFile}});
}

void Server::stop() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    kube::log::warn("Stopping the webhook server", {{"error", e.what()}});
  }
  impl_->listener.reset();
}

ServerRunnable::ServerRunnable(ServerOptions opts) : server_(std::move(opts)) {}

void ServerRunnable::start(std::stop_token stop) {
  server_.start();
  kube::waitForStop(stop);
  server_.stop();
}

}  // namespace kubec2::webhook
