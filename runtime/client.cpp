#include "runtime/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "runtime/json_scan.h"
#include "runtime/metrics.h"
#include "runtime/watch_decoder.h"

namespace kube {
namespace {

using Clock = std::chrono::steady_clock;

std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

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

Query listQuery(const ListOptions& o) {
  Query q;
  q.add("labelSelector", o.labelSelector)
      .add("fieldSelector", o.fieldSelector)
      .add("limit", o.limit)
      .add("continue", o.continueToken)
      .add("resourceVersion", o.resourceVersion)
      .add("resourceVersionMatch", o.resourceVersionMatch);
  return q;
}

// A token bucket: `qps` tokens per second, at most `burst` saved up.
// acquire() blocks until a token is free (client-go's flowcontrol limiter).
class RateLimiter {
 public:
  RateLimiter(double qps, int burst)
      : qps_(qps), burst_(std::max(1, burst)), tokens_(std::max(1, burst)), last_(Clock::now()) {}
  void acquire() {
    if (qps_ <= 0) return;  // unlimited
    std::chrono::duration<double> wait{0};
    {
      std::lock_guard l(mu_);
      auto now = Clock::now();
      tokens_ = std::min<double>(
          burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
      last_ = now;
      tokens_ -= 1;  // reserve now; a negative balance is the wait
      if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / qps_);
    }
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
  }

 private:
  std::mutex mu_;
  double qps_;
  int burst_;
  double tokens_;
  Clock::time_point last_;
};

struct CurlHandleDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlHandleDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct Response {
  long code = 0;
  std::string body;
  std::optional<std::chrono::seconds> retryAfter;
  CURLcode curlCode = CURLE_OK;
  std::string curlError;
};

size_t writeToString(char* ptr, size_t size, size_t n, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * n);
  return size * n;
}

size_t headerCallback(char* buf, size_t size, size_t n, void* userdata) {
  auto* r = static_cast<Response*>(userdata);
  std::string_view line(buf, size * n);
  constexpr std::string_view kRetry = "retry-after:";
  if (line.size() > kRetry.size()) {
    std::string lower(line.substr(0, kRetry.size()));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == kRetry) {
      try {
        r->retryAfter = std::chrono::seconds(std::stol(std::string(line.substr(kRetry.size()))));
      } catch (const std::exception&) {
        // An HTTP-date Retry-After: fall back to our own backoff.
      }
    }
  }
  return size * n;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool isConnectFailure(CURLcode c) {
  return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
         c == CURLE_COULDNT_RESOLVE_PROXY;
}

// Transport failures with no HTTP answer become ApiError code 0, with a
// message that says what went wrong in the user's terms.
ApiError transportError(const std::string& method, const std::string& url, CURLcode c,
                        const std::string& detail) {
  Status s;
  s.code = 0;
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      s.reason = "Unreachable";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      s.reason = "Timeout";
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      s.reason = "TLSError";
      break;
    default:
      s.reason = "TransportError";
  }
  s.message = method + " " + url + ": " + curl_easy_strerror(c) +
              (detail.empty() ? "" : " (" + detail + ")");
  return ApiError(std::move(s));
}

}  // namespace

std::string Resource::basePath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string Resource::collectionPath(const std::string& ns) const {
  if (namespaced && !ns.empty()) return basePath() + "/namespaces/" + ns + "/" + resource;
  return basePath() + "/" + resource;
}

std::string Resource::objectPath(const std::string& ns, const std::string& name) const {
  return collectionPath(ns) + "/" + name;
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Client::Impl {
  RestConfig cfg;
  RateLimiter limiter;
  std::mutex poolMu;
  std::vector<CurlHandle> pool;  // idle handles; each keeps its connection alive
  std::mutex tokenMu;
  std::string token;
  Clock::time_point tokenReadAt{};

  explicit Impl(RestConfig c) : cfg(std::move(c)), limiter(cfg.qps, cfg.burst) {
    globalInit();
    token = cfg.token;
    if (!cfg.tokenFile.empty()) refreshToken(true);
  }

  void refreshToken(bool force) {
    std::lock_guard l(tokenMu);
    if (cfg.tokenFile.empty()) return;
    auto now = Clock::now();
    if (!force && now - tokenReadAt < cfg.tokenRereadPeriod) return;
    std::string t = readFile(cfg.tokenFile);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    if (!t.empty()) token = t;  // keep the old token if the file is mid-rotation
    tokenReadAt = now;
  }
  std::string currentToken() {
    refreshToken(false);
    std::lock_guard l(tokenMu);
    return token;
  }

  CurlHandle acquireHandle() {
    {
      std::lock_guard l(poolMu);
      if (!pool.empty()) {
        CurlHandle h = std::move(pool.back());
        pool.pop_back();
        return h;
      }
    }
    CurlHandle h(curl_easy_init());
    if (!h) throw ApiError(Status{0, "TransportError", "curl_easy_init failed", {}, {}});
    return h;
  }
  void releaseHandle(CurlHandle h) {
    std::lock_guard l(poolMu);
    if (pool.size() < 64) pool.push_back(std::move(h));
  }

  // Options common to every request: TLS (always verified), auth, timeouts.
  Slist setup(CURL* c, const std::string& method, const std::string& url,
              const std::string& contentType, bool streaming) {
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!cfg.caPem.empty()) {
      curl_blob ca{const_cast<char*>(cfg.caPem.data()), cfg.caPem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!cfg.clientCertPem.empty()) {
      curl_blob cert{const_cast<char*>(cfg.clientCertPem.data()), cfg.clientCertPem.size(),
                     CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(cfg.clientKeyPem.data()), cfg.clientKeyPem.size(),
                    CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg.connectTimeout.count()));
    if (!streaming) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.timeout.count()));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, cfg.userAgent.c_str());
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
    if (method == "GET") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    curl_slist* h = nullptr;
    h = curl_slist_append(h, "Accept: application/json");
    if (!contentType.empty()) h = curl_slist_append(h, ("Content-Type: " + contentType).c_str());
    std::string tok = currentToken();
    if (!tok.empty()) h = curl_slist_append(h, ("Authorization: Bearer " + tok).c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    return Slist(h);
  }

  // One HTTP exchange, no retries.
  Response perform(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& contentType) {
    limiter.acquire();
    CurlHandle h = acquireHandle();
    CURL* c = h.get();
    std::string url = cfg.server + path;
    Slist headers = setup(c, method, url, body.empty() ? "" : contentType, false);
    Response r;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writeToString);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, headerCallback);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    auto start = Clock::now();
    r.curlCode = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    r.curlError = errbuf;
    metrics::restLatency(method).Observe(
        std::chrono::duration<double>(Clock::now() - start).count());
    metrics::restRequests(r.curlCode == CURLE_OK ? std::to_string(r.code) : "<error>", method)
        .Increment();
    // Every request at debug level (client-go's -v=6): what an operator writes, and why
    // a count of writes is what it is.
    spdlog::debug("{} {} {}", method, url, r.curlCode == CURLE_OK ? std::to_string(r.code) : std::string(errbuf));
    if (r.curlCode == CURLE_OK) releaseHandle(std::move(h));  // a failed handle is not reused
    return r;
  }

  static bool retryable(const std::string& method, const Response& r, bool idempotent) {
    if (r.curlCode != CURLE_OK) return isConnectFailure(r.curlCode) || idempotent;
    if (r.code == 429) return true;  // not processed: always safe to retry
    if (r.code >= 500) return idempotent || r.retryAfter.has_value();
    (void)method;
    return false;
  }

  // A request with retries; throws ApiError for any non-2xx answer.
  std::string call(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& contentType, bool idempotent) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    for (int attempt = 0;; ++attempt) {
      Response r = perform(method, path, body, contentType);
      if (r.curlCode == CURLE_OK && r.code >= 200 && r.code < 300) return std::move(r.body);
      bool again = attempt < cfg.maxRetries && retryable(method, r, idempotent);
      if (!again) throwFor(method, path, r);
      // Exponential backoff with jitter (200 ms, 400 ms, ... capped at 10 s),
      // or what the server asked for.
      auto base = std::chrono::milliseconds(200) * (1 << std::min(attempt, 6));
      std::chrono::milliseconds wait =
          std::min<std::chrono::milliseconds>(base, std::chrono::seconds(10));
      if (r.retryAfter)
        wait = std::min<std::chrono::milliseconds>(*r.retryAfter, std::chrono::seconds(30));
      std::uniform_real_distribution<double> jitter(1.0, 1.5);
      wait = std::chrono::milliseconds(
          static_cast<long>(static_cast<double>(wait.count()) * jitter(rng)));
      spdlog::debug("retrying {} {} after {} ms (attempt {}, code {})", method, path, wait.count(),
                    attempt + 1, r.code);
      std::this_thread::sleep_for(wait);
    }
  }

  [[noreturn]] void throwFor(const std::string& method, const std::string& path,
                             const Response& r) {
    if (r.curlCode != CURLE_OK)
      throw transportError(method, cfg.server + path, r.curlCode, r.curlError);
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    Status s = Status::fromJson(j.is_discarded() ? nlohmann::json() : j, static_cast<int>(r.code));
    if (s.message.empty()) {
      s.message = method + " " + path + ": HTTP " + std::to_string(r.code);
      if (j.is_discarded() && !r.body.empty()) s.message += ": " + r.body.substr(0, 200);
    }
    if (!s.retryAfter && r.retryAfter) s.retryAfter = r.retryAfter;
    throw ApiError(std::move(s));
  }

  nlohmann::json callJson(const std::string& method, const std::string& path,
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
};

Client::Client(RestConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Client::~Client() = default;

const RestConfig& Client::config() const {
  return impl_->cfg;
}

nlohmann::json Client::get(const Resource& r, const std::string& ns, const std::string& name,
                           const std::string& subresource) {
  std::string path = r.objectPath(ns, name);
  if (!subresource.empty()) path += "/" + subresource;
  return impl_->callJson("GET", path, "", "", true);
}

ListPage Client::listPage(const Resource& r, const std::string& ns, const ListOptions& o) {
  nlohmann::json j =
      impl_->callJson("GET", r.collectionPath(ns) + listQuery(o).str(), "", "", true);
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

ListPage Client::list(const Resource& r, const std::string& ns, ListOptions opts) {
  ListPage all;
  all.resourceVersion = listEach(
      r, ns, std::move(opts), [&](nlohmann::json&& item) { all.items.push_back(std::move(item)); });
  return all;
}

std::string Client::listEach(const Resource& r, const std::string& ns, ListOptions opts,
                             const std::function<void(nlohmann::json&&)>& onItem) {
  return listEachText(r, ns, std::move(opts), [&](std::string_view text) {
    onItem(nlohmann::json::parse(text));  // the scanner checked the structure
  });
}

std::string Client::listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                                 const std::function<void(std::string_view)>& onItem) {
  std::string rv;
  for (;;) {
    const std::string path = r.collectionPath(ns) + listQuery(opts).str();
    const std::string body = impl_->call("GET", path, "", "", true);
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

nlohmann::json Client::create(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                              const WriteOptions& o) {
  Query q;
  q.add("fieldManager", o.fieldManager).add("dryRun", o.dryRun ? std::string("All") : "");
  std::string path = r.collectionPath(ns);
  if (!o.subresource.empty()) {
    path = r.objectPath(ns, obj["metadata"].value("name", "")) + "/" + o.subresource;
  }
  return impl_->callJson("POST", path + q.str(), obj.dump(), "application/json", false);
}

nlohmann::json Client::update(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                              const WriteOptions& o) {
  Query q;
  q.add("fieldManager", o.fieldManager).add("dryRun", o.dryRun ? std::string("All") : "");
  std::string name = obj.contains("metadata") ? obj["metadata"].value("name", "") : "";
  std::string path = r.objectPath(ns, name);
  if (!o.subresource.empty()) path += "/" + o.subresource;
  // A PUT carries metadata.resourceVersion, so a retry after a lost answer
  // fails with Conflict rather than writing twice: safe to retry.
  return impl_->callJson("PUT", path + q.str(), obj.dump(), "application/json", true);
}

nlohmann::json Client::updateStatus(const Resource& r, const std::string& ns,
                                    const nlohmann::json& obj) {
  WriteOptions o;
  o.subresource = "status";
  return update(r, ns, obj, o);
}

nlohmann::json Client::patch(const Resource& r, const std::string& ns, const std::string& name,
                             PatchType type, const nlohmann::json& body, const PatchOptions& o) {
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
  return impl_->callJson("PATCH", path + q.str(), body.dump(), ct, idempotent);
}

nlohmann::json Client::apply(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                             const std::string& fieldManager, bool force,
                             const std::string& subresource) {
  PatchOptions o;
  o.fieldManager = fieldManager;
  o.force = force;
  o.subresource = subresource;
  return patch(r, ns, obj.at("metadata").at("name").get<std::string>(), PatchType::Apply, obj, o);
}

std::optional<nlohmann::json> Client::del(const Resource& r, const std::string& ns,
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
      impl_->callJson("DELETE", r.objectPath(ns, name), body.dump(), "application/json", true);
  if (j.value("kind", "") == "Status") return std::nullopt;
  return j;
}

namespace {

struct WatchState {
  WatchDecoder decoder;
  const std::function<bool(WatchEvent&&)>* onEvent = nullptr;
  std::stop_token stop;
  bool stoppedByCaller = false;
  std::exception_ptr error;
  std::string errorBody;  // non-2xx answers: the Status body
  long code = 0;
  CURL* curl = nullptr;
};

size_t watchWrite(char* ptr, size_t size, size_t n, void* userdata) {
  auto* st = static_cast<WatchState*>(userdata);
  size_t len = size * n;
  if (st->code == 0) curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->code);
  if (st->code < 200 || st->code >= 300) {
    st->errorBody.append(ptr, len);
    return len;
  }
  try {
    if (!st->decoder.feed(std::string_view(ptr, len), *st->onEvent)) {
      st->stoppedByCaller = true;
      return CURL_WRITEFUNC_ERROR;
    }
  } catch (...) {
    st->error = std::current_exception();
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

int watchProgress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<WatchState*>(userdata);
  if (st->stop.stop_requested()) {
    st->stoppedByCaller = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

}  // namespace

void Client::watch(const Resource& r, const std::string& ns, const WatchOptions& o,
                   const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop) {
  Query q;
  q.add("watch", std::string("1"))
      .add("labelSelector", o.labelSelector)
      .add("fieldSelector", o.fieldSelector)
      .add("resourceVersion", o.resourceVersion)
      .flag("allowWatchBookmarks", o.allowWatchBookmarks)
      .add("timeoutSeconds", o.timeoutSeconds);
  std::string path = r.collectionPath(ns) + q.str();
  impl_->limiter.acquire();
  CurlHandle h(curl_easy_init());
  CURL* c = h.get();
  Slist headers = impl_->setup(c, "GET", impl_->cfg.server + path, "", true);
  WatchState st;
  st.onEvent = &onEvent;
  st.stop = stop;
  st.curl = c;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watchWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watchProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &st);
  // A watch is quiet for long stretches; a dead peer is caught by the overall
  // limit (the server's own timeout plus slack) and by TCP keepalive.
  if (o.timeoutSeconds > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT, o.timeoutSeconds + 60L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
  auto start = Clock::now();
  CURLcode rc = curl_easy_perform(c);
  if (st.code == 0) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st.code);
  metrics::restLatency("WATCH").Observe(
      std::chrono::duration<double>(Clock::now() - start).count());
  metrics::restRequests(rc == CURLE_OK || st.code ? std::to_string(st.code) : "<error>", "WATCH")
      .Increment();
  if (st.error) std::rethrow_exception(st.error);
  if (st.stoppedByCaller) return;
  if (rc != CURLE_OK) throw transportError("WATCH", impl_->cfg.server + path, rc, errbuf);
  if (st.code < 200 || st.code >= 300) {
    Response resp;
    resp.code = st.code;
    resp.body = std::move(st.errorBody);
    impl_->throwFor("WATCH", path, resp);
  }
  st.decoder.finish(onEvent);
}

bool Client::isServed(const std::string& group, const std::string& version,
                      const std::string& resource) {
  Resource r{group, version, "", true, ""};
  try {
    nlohmann::json j = impl_->callJson("GET", r.basePath(), "", "", true);
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

std::string Client::request(const std::string& method, const std::string& path,
                            const std::string& body, const std::string& contentType) {
  return impl_->call(method, path, body, contentType, method == "GET");
}

}  // namespace kube
