#include "runtime/client.h"

#include "runtime/http_transport.h"
#include "runtime/json_scan.h"
#include "runtime/metrics.h"
#include "runtime/watch_decoder.h"

namespace kube {
namespace {

class Query {
 public:
  Query& add(const char* k, const std::string& v) {
    if (v.empty()) return *this;
    s_ += s_.empty() ? '?' : '&';
    s_ += k;
    s_ += '=';
    s_ += urlEncode(v);
    return *this;
  }
  Query& add(const char* k, long v) { return v ? add(k, std::to_string(v)) : *this; }
  Query& flag(const char* k, bool on) { return on ? add(k, std::string("true")) : *this; }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

HttpOptions transportOptions(const RestConfig& cfg) {
  HttpOptions o;
  o.baseUrl = cfg.server;
  o.caPem = cfg.caPem;
  o.clientCertPem = cfg.clientCertPem;
  o.clientKeyPem = cfg.clientKeyPem;
  o.bearerToken = cfg.token;
  o.tokenFile = cfg.tokenFile;
  o.tokenRereadPeriod = cfg.tokenRereadPeriod;
  o.qps = cfg.qps;
  o.burst = cfg.burst;
  o.timeout = cfg.timeout;
  o.connectTimeout = cfg.connectTimeout;
  o.maxRetries = cfg.maxRetries;
  o.userAgent = cfg.userAgent;
  o.maxResponseBytes = cfg.maxResponseBytes;
  o.logName = "kube";
  o.observe = [](const std::string& method, const std::string& code, double seconds) {
    metrics::restLatency(method).Observe(seconds);
    metrics::restRequests(code, method).Increment();
  };
  return o;
}

// A failed exchange as ApiError: the server's Status when it sent one, the
// transport's reason (Unreachable, Timeout, TLSError, ...) with code 0 when
// no answer came.
[[noreturn]] void throwFor(const std::string& method, const std::string& path,
                           const HttpResponse& r) {
  if (r.status == 0) throw ApiError(Status{0, r.failureReason, r.failureMessage, {}, {}});
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  Status s = Status::fromJson(j.is_discarded() ? nlohmann::json() : j, static_cast<int>(r.status));
  if (s.message.empty()) {
    s.message = method + " " + path + ": HTTP " + std::to_string(r.status);
    if (j.is_discarded() && !r.body.empty()) s.message += ": " + r.body.substr(0, 200);
  }
  if (!s.retryAfter && r.retryAfter) s.retryAfter = r.retryAfter;
  throw ApiError(std::move(s));
}

}  // namespace

std::string listQuery(const ListOptions& o) {
  Query q;
  q.add("labelSelector", o.labelSelector)
      .add("fieldSelector", o.fieldSelector)
      .add("limit", o.limit)
      .add("continue", o.continueToken)
      .add("resourceVersion", o.resourceVersion)
      .add("resourceVersionMatch", o.resourceVersionMatch);
  return q.str();
}

// ------------------------------------------------------------ interfaces

std::string Reader::listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                                 const std::function<void(std::string_view)>& onItem) {
  std::string rv;
  for (;;) {
    ListPage page = listPage(r, ns, opts);
    if (rv.empty()) rv = page.resourceVersion;
    for (const auto& item : page.items) onItem(item.dump());
    if (page.continueToken.empty()) break;
    opts.continueToken = page.continueToken;
    opts.resourceVersion.clear();
    opts.resourceVersionMatch.clear();
  }
  return rv;
}

ListPage Reader::list(const Resource& r, const std::string& ns, ListOptions opts) {
  ListPage all;
  all.resourceVersion = listEach(
      r, ns, std::move(opts), [&](nlohmann::json&& item) { all.items.push_back(std::move(item)); });
  return all;
}

std::string Reader::listEach(const Resource& r, const std::string& ns, ListOptions opts,
                             const std::function<void(nlohmann::json&&)>& onItem) {
  return listEachText(r, ns, std::move(opts), [&](std::string_view text) {
    onItem(nlohmann::json::parse(text));  // the scanner checked the structure
  });
}

nlohmann::json Writer::apply(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                             const std::string& fieldManager, bool force,
                             const std::string& subresource) {
  PatchOptions o;
  o.fieldManager = fieldManager;
  o.force = force;
  o.subresource = subresource;
  return patch(r, ns, obj.at("metadata").at("name").get<std::string>(), PatchType::Apply, obj, o);
}

nlohmann::json Client::updateStatus(const Resource& r, const std::string& ns,
                                    const nlohmann::json& obj) {
  WriteOptions o;
  o.subresource = "status";
  return update(r, ns, obj, o);
}

nlohmann::json Client::patchStatus(const Resource& r, const std::string& ns,
                                   const std::string& name, PatchType type,
                                   const nlohmann::json& body, const std::string& fieldManager) {
  PatchOptions o;
  o.fieldManager = fieldManager;
  o.subresource = "status";
  return patch(r, ns, name, type, body, o);
}

std::optional<nlohmann::json> getIfExists(Reader& reader, const Resource& r, const std::string& ns,
                                          const std::string& name) {
  try {
    return reader.get(r, ns, name);
  } catch (const ApiError& e) {
    if (e.isNotFound()) return std::nullopt;
    throw;
  }
}

// ------------------------------------------------------------ RequestStop

namespace {
thread_local std::stop_token tlsStop;
}

RequestStop::RequestStop(std::stop_token stop) : previous_(tlsStop) {
  tlsStop = std::move(stop);
}

RequestStop::~RequestStop() {
  tlsStop = previous_;
}

std::stop_token RequestStop::current() {
  return tlsStop;
}

// ------------------------------------------------------------ RestClient

RestClient::RestClient(RestConfig config)
    : config_(std::move(config)),
      http_(std::make_unique<HttpTransport>(transportOptions(config_))) {}
RestClient::~RestClient() = default;

const RestConfig& RestClient::config() const {
  return config_;
}

std::string RestClient::call(const std::string& method, const std::string& path,
                             const std::string& body, const std::string& contentType,
                             bool idempotent) {
  HttpRequest req;
  req.method = method;
  req.path = path;
  req.body = body;
  req.contentType = contentType;
  req.idempotent = idempotent;
  HttpResponse r = http_->call(req, RequestStop::current());
  if (!r.ok()) throwFor(method, path, r);
  return std::move(r.body);
}

nlohmann::json RestClient::callJson(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& contentType,
                                    bool idempotent) {
  std::string out = call(method, path, body, contentType, idempotent);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) {
    throw ApiError(Status{0,
                          "BadResponse",
                          method + " " + path + ": response is not JSON: " + out.substr(0, 200),
                          {},
                          {}});
  }
  return j;
}

nlohmann::json RestClient::get(const Resource& r, const std::string& ns, const std::string& name,
                               const std::string& subresource) {
  std::string path = r.objectPath(ns, name);
  if (!subresource.empty()) path += "/" + subresource;
  return callJson("GET", path, "", "", true);
}

ListPage RestClient::listPage(const Resource& r, const std::string& ns, const ListOptions& o) {
  nlohmann::json j = callJson("GET", r.collectionPath(ns) + listQuery(o), "", "", true);
  ListPage page;
  if (auto m = j.find("metadata"); m != j.end() && m->is_object()) {
    page.resourceVersion = m->value("resourceVersion", "");
    page.continueToken = m->value("continue", "");
  }
  if (auto items = j.find("items"); items != j.end() && items->is_array()) {
    page.items.reserve(items->size());
    for (auto& it : *items) page.items.push_back(std::move(it));
  }
  return page;
}

std::string RestClient::listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                                     const std::function<void(std::string_view)>& onItem) {
  std::string rv;
  for (;;) {
    const std::string path = r.collectionPath(ns) + listQuery(opts);
    const std::string body = call("GET", path, "", "", true);
    std::string pageRv, next;
    bool itemsOk = true;
    const bool ok = jsonscan::forEachMember(body, [&](const jsonscan::Member& m) {
      if (m.key == "items" && m.value != "null") {
        itemsOk = jsonscan::forEachElement(m.value, [&](std::string_view item) {
          onItem(item);
          return true;
        });
      } else if (m.key == "metadata") {
        const auto meta = nlohmann::json::parse(m.value, nullptr, false);
        if (meta.is_object()) {
          pageRv = meta.value("resourceVersion", "");
          next = meta.value("continue", "");
        }
      }
      return itemsOk;
    });
    if (!ok || !itemsOk) {
      throw ApiError(Status{0,
                            "BadResponse",
                            "GET " + path + ": response is not a JSON list: " + body.substr(0, 200),
                            {},
                            {}});
    }
    // The first page's resourceVersion is the list's snapshot.
    if (rv.empty()) rv = pageRv;
    if (next.empty()) break;
    opts.continueToken = next;
    // A continued list must not pin a resourceVersion.
    opts.resourceVersion.clear();
    opts.resourceVersionMatch.clear();
  }
  return rv;
}

nlohmann::json RestClient::create(const Resource& r, const std::string& ns,
                                  const nlohmann::json& obj, const WriteOptions& o) {
  Query q;
  q.add("fieldManager", o.fieldManager).add("dryRun", o.dryRun ? std::string("All") : "");
  std::string path = r.collectionPath(ns);
  if (!o.subresource.empty()) {
    path = r.objectPath(ns, obj["metadata"].value("name", "")) + "/" + o.subresource;
  }
  return callJson("POST", path + q.str(), obj.dump(), "application/json", false);
}

nlohmann::json RestClient::update(const Resource& r, const std::string& ns,
                                  const nlohmann::json& obj, const WriteOptions& o) {
  Query q;
  q.add("fieldManager", o.fieldManager).add("dryRun", o.dryRun ? std::string("All") : "");
  std::string name = obj.contains("metadata") ? obj["metadata"].value("name", "") : "";
  std::string path = r.objectPath(ns, name);
  if (!o.subresource.empty()) path += "/" + o.subresource;
  // A PUT carries metadata.resourceVersion, so a retry after a lost answer
  // fails with Conflict rather than writing twice: safe to retry.
  return callJson("PUT", path + q.str(), obj.dump(), "application/json", true);
}

nlohmann::json RestClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                                 PatchType type, const nlohmann::json& body,
                                 const PatchOptions& o) {
  const char* ct = "application/merge-patch+json";
  bool idempotent = true;
  switch (type) {
    case PatchType::Merge:
      ct = "application/merge-patch+json";
      break;
    case PatchType::Json:
      ct = "application/json-patch+json";
      idempotent = false;  // "add" to a list twice is not the same as once
      break;
    case PatchType::Apply:
      ct = "application/apply-patch+yaml";
      break;
    case PatchType::Strategic:
      ct = "application/strategic-merge-patch+json";
      break;
  }
  Query q;
  q.add("fieldManager", o.fieldManager).flag("force", type == PatchType::Apply && o.force);
  std::string path = r.objectPath(ns, name);
  if (!o.subresource.empty()) path += "/" + o.subresource;
  return callJson("PATCH", path + q.str(), body.dump(), ct, idempotent);
}

std::optional<nlohmann::json> RestClient::del(const Resource& r, const std::string& ns,
                                              const std::string& name, const DeleteOptions& o) {
  nlohmann::json body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (o.preconditionUid || o.preconditionResourceVersion) {
    auto& p = body["preconditions"] = nlohmann::json::object();
    if (o.preconditionUid) p["uid"] = *o.preconditionUid;
    if (o.preconditionResourceVersion) p["resourceVersion"] = *o.preconditionResourceVersion;
  }
  if (!o.propagationPolicy.empty()) body["propagationPolicy"] = o.propagationPolicy;
  if (o.gracePeriodSeconds) body["gracePeriodSeconds"] = *o.gracePeriodSeconds;
  nlohmann::json j =
      callJson("DELETE", r.objectPath(ns, name), body.dump(), "application/json", true);
  if (j.value("kind", "") == "Status") return std::nullopt;
  return j;
}

void RestClient::watch(const Resource& r, const std::string& ns, const WatchOptions& o,
                       const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop) {
  Query q;
  q.add("watch", std::string("1"))
      .add("labelSelector", o.labelSelector)
      .add("fieldSelector", o.fieldSelector)
      .add("resourceVersion", o.resourceVersion)
      .flag("allowWatchBookmarks", o.allowWatchBookmarks)
      .add("timeoutSeconds", o.timeoutSeconds);
  const std::string path = r.collectionPath(ns) + q.str();
  WatchDecoder decoder;
  bool endedByCaller = false;
  // A watch is quiet for long stretches; a dead peer is caught by the overall
  // limit (the server's own timeout plus slack) and by TCP keepalive.
  const HttpResponse resp = http_->stream(
      path,
      [&](std::string_view chunk) {
        if (decoder.feed(chunk, onEvent)) return true;
        endedByCaller = true;
        return false;
      },
      stop, o.timeoutSeconds > 0 ? o.timeoutSeconds + 60 : 0);
  if (endedByCaller || resp.failureReason == "Stopped") return;
  if (!resp.ok()) throwFor("WATCH", path, resp);
  decoder.finish(onEvent);
}

bool RestClient::isServed(const std::string& group, const std::string& version,
                          const std::string& resource) {
  Resource r{group, version, "", true, ""};
  try {
    nlohmann::json j = callJson("GET", r.basePath(), "", "", true);
    if (auto res = j.find("resources"); res != j.end() && res->is_array()) {
      for (const auto& e : *res)
        if (e.value("name", "") == resource) return true;
    }
    return false;
  } catch (const ApiError& e) {
    if (e.isNotFound()) return false;
    throw;
  }
}

std::string RestClient::request(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& contentType) {
  return call(method, path, body, contentType, method == "GET");
}

}  // namespace kube
