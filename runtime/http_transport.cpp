#include "runtime/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "runtime/wait.h"

namespace kube {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A token bucket: `qps` tokens per second, at most `burst` saved up.
// acquire() blocks until a token is free (client-go's flowcontrol limiter).
class RateLimiter {
 public:
  RateLimiter(double qps, int burst)
      : qps_(qps),
        burst_(std::max(1, burst)),
        tokens_(std::max(1, burst)),
        last_(SteadyClock::now()) {}
  // False when `stop` ended the wait.
  bool acquire(std::stop_token stop) {
    if (qps_ <= 0) return true;  // unlimited
    std::chrono::duration<double> wait{0};
    {
      std::lock_guard l(mu_);
      auto now = SteadyClock::now();
      tokens_ = std::min<double>(
          burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
      last_ = now;
      tokens_ -= 1;  // reserve now; a negative balance is the wait
      if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / qps_);
    }
    if (wait.count() <= 0) return true;
    return waitFor(SystemClock::instance(), std::chrono::duration_cast<Clock::duration>(wait),
                   stop);
  }

 private:
  std::mutex mu_;
  double qps_;
  int burst_;
  double tokens_;
  SteadyClock::time_point last_;
};

struct CurlHandleDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlHandleDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// What the callbacks of one transfer share.
struct Transfer {
  HttpResponse* response = nullptr;
  std::size_t maxBytes = 0;
  bool tooLarge = false;
  std::stop_token stop;
  bool stopped = false;
  // Streams only.
  const std::function<bool(std::string_view)>* onData = nullptr;
  bool endedByCaller = false;
  std::exception_ptr error;
  CURL* curl = nullptr;
};

size_t writeBody(char* ptr, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t len = size * n;
  if (t->onData != nullptr) {
    if (t->response->status == 0)
      curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->response->status);
    if (t->response->status >= 200 && t->response->status < 300) {
      try {
        if (!(*t->onData)(std::string_view(ptr, len))) {
          t->endedByCaller = true;
          return CURL_WRITEFUNC_ERROR;
        }
      } catch (...) {
        t->error = std::current_exception();
        return CURL_WRITEFUNC_ERROR;
      }
      return len;
    }
  }
  if (t->maxBytes > 0 && t->response->body.size() + len > t->maxBytes) {
    t->tooLarge = true;
    return CURL_WRITEFUNC_ERROR;
  }
  t->response->body.append(ptr, len);
  return len;
}

size_t readHeader(char* buf, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  std::string_view line(buf, size * n);
  constexpr std::string_view kRetry = "retry-after:";
  if (line.size() > kRetry.size()) {
    std::string lower(line.substr(0, kRetry.size()));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == kRetry) {
      try {
        t->response->retryAfter =
            std::chrono::seconds(std::stol(std::string(line.substr(kRetry.size()))));
      } catch (const std::exception&) {
        // An HTTP-date Retry-After: fall back to our own backoff.
      }
    }
  }
  return size * n;
}

int progress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(userdata);
  if (t->stop.stop_requested()) {
    t->stopped = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool isConnectFailure(const HttpResponse& r) {
  return r.status == 0 && r.failureReason == "Unreachable";
}

// Transport failures in the user's terms.
void setFailure(HttpResponse& r, const std::string& method, const std::string& url, CURLcode c,
                const std::string& detail, const Transfer& t) {
  r.status = 0;
  if (t.stopped) {
    r.failureReason = "Stopped";
    r.failureMessage = method + " " + url + ": stopped";
    return;
  }
  if (t.tooLarge) {
    r.failureReason = "TooLarge";
    r.failureMessage =
        method + " " + url + ": response larger than " + std::to_string(t.maxBytes) + " bytes";
    return;
  }
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      r.failureReason = "Unreachable";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      r.failureReason = "Timeout";
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      r.failureReason = "TLSError";
      break;
    default:
      r.failureReason = "TransportError";
  }
  r.failureMessage = method + " " + url + ": " + curl_easy_strerror(c) +
                     (detail.empty() ? "" : " (" + detail + ")");
}

}  // namespace

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string urlEncode(std::string_view s) {
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

struct HttpTransport::Impl {
  HttpOptions opts;
  RateLimiter limiter;
  std::mutex poolMu;
  std::vector<CurlHandle> pool;  // idle handles; each keeps its connection alive
  std::mutex tokenMu;
  std::string token;
  SteadyClock::time_point tokenReadAt{};

  explicit Impl(HttpOptions o) : opts(std::move(o)), limiter(opts.qps, opts.burst) {
    globalInit();
    token = opts.bearerToken;
    if (!opts.tokenFile.empty()) refreshToken(true);
  }

  void refreshToken(bool force) {
    std::lock_guard l(tokenMu);
    if (opts.tokenFile.empty()) return;
    auto now = SteadyClock::now();
    if (!force && now - tokenReadAt < opts.tokenRereadPeriod) return;
    std::string t = readFile(opts.tokenFile);
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
    return CurlHandle(curl_easy_init());
  }
  void releaseHandle(CurlHandle h) {
    std::lock_guard l(poolMu);
    if (pool.size() < 64) pool.push_back(std::move(h));
  }

  // Options common to every request: TLS (always verified), auth, timeouts.
  Slist setup(CURL* c, const HttpRequest& req, const std::string& url, bool streaming) {
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        c, CURLOPT_HTTP_VERSION,
        static_cast<long>(opts.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opts.caPem.empty()) {
      curl_blob ca{const_cast<char*>(opts.caPem.data()), opts.caPem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!opts.clientCertPem.empty()) {
      curl_blob cert{const_cast<char*>(opts.clientCertPem.data()), opts.clientCertPem.size(),
                     CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(opts.clientKeyPem.data()), opts.clientKeyPem.size(),
                    CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connectTimeout.count()));
    if (!streaming)
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, opts.userAgent.c_str());
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
    if (req.method == "GET") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_slist* h = nullptr;
    if (!req.accept.empty()) h = curl_slist_append(h, ("Accept: " + req.accept).c_str());
    if (!req.body.empty() && !req.contentType.empty())
      h = curl_slist_append(h, ("Content-Type: " + req.contentType).c_str());
    if (const std::string tok = currentToken(); !tok.empty()) {
      h = curl_slist_append(h, ("Authorization: Bearer " + tok).c_str());
    } else if (!opts.basicUser.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, opts.basicUser.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, opts.basicPassword.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    return Slist(h);
  }

  void observe(const std::string& method, const HttpResponse& r, SteadyClock::time_point start,
               const std::string& url, const std::string& error) {
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    const std::string code = r.status > 0 ? std::to_string(r.status) : "<error>";
    if (opts.observe) opts.observe(method, code, seconds);
    // Every request at debug level (client-go's -v=6): what a client sends, and why
    // a count of requests is what it is.
    spdlog::debug("{} {} {} {}", opts.logName, method, url, r.status > 0 ? code : error);
  }

  HttpResponse perform(const HttpRequest& req, std::stop_token stop) {
    HttpResponse r;
    const std::string url = opts.baseUrl + req.path;
    if (!limiter.acquire(stop)) {
      r.failureReason = "Stopped";
      r.failureMessage = req.method + " " + url + ": stopped";
      return r;
    }
    CurlHandle h = acquireHandle();
    if (!h) {
      r.failureReason = "TransportError";
      r.failureMessage = req.method + " " + url + ": curl_easy_init failed";
      return r;
    }
    CURL* c = h.get();
    Slist headers = setup(c, req, url, false);
    Transfer t;
    t.response = &r;
    t.maxBytes = opts.maxResponseBytes;
    t.stop = stop;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writeBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, readHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    if (stop.stop_possible()) {
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    }
    const auto start = SteadyClock::now();
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.body.clear();
      setFailure(r, req.method, url, rc, errbuf, t);
    }
    observe(req.method, r, start, url, errbuf);
    if (rc == CURLE_OK) releaseHandle(std::move(h));  // a failed handle is not reused
    return r;
  }

  static bool retryable(const HttpResponse& r, bool idempotent) {
    if (r.status == 0) {
      if (r.failureReason == "Stopped" || r.failureReason == "TooLarge") return false;
      return isConnectFailure(r) || idempotent;
    }
    if (r.status == 429) return true;  // not processed: always safe to retry
    if (r.status >= 500) return idempotent || r.retryAfter.has_value();
    return false;
  }

  HttpResponse call(const HttpRequest& req, std::stop_token stop) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    for (int attempt = 0;; ++attempt) {
      HttpResponse r = perform(req, stop);
      if (r.ok()) return r;
      if (attempt >= opts.maxRetries || !retryable(r, req.idempotent)) return r;
      // Exponential backoff with jitter (200 ms, 400 ms, ... capped at 10 s),
      // or what the server asked for.
      auto base = opts.retryBase * (1 << std::min(attempt, 6));
      std::chrono::milliseconds wait =
          std::min<std::chrono::milliseconds>(base, std::chrono::seconds(10));
      if (r.retryAfter)
        wait = std::min<std::chrono::milliseconds>(*r.retryAfter, opts.maxRetryAfter);
      std::uniform_real_distribution<double> jitter(1.0, 1.5);
      wait = std::chrono::milliseconds(
          static_cast<long>(static_cast<double>(wait.count()) * jitter(rng)));
      spdlog::debug("{} retrying {} {} after {} ms (attempt {}, status {})", opts.logName,
                    req.method, req.path, wait.count(), attempt + 1, r.status);
      if (!(opts.sleep ? opts.sleep(stop, wait) : waitFor(SystemClock::instance(), wait, stop)))
        return r;
    }
  }

  HttpResponse stream(const std::string& path, const std::function<bool(std::string_view)>& onData,
                      std::stop_token stop, long maxSeconds) {
    limiter.acquire(stop);
    HttpRequest req;
    req.path = path;
    HttpResponse r;
    const std::string url = opts.baseUrl + path;
    CurlHandle h(curl_easy_init());
    if (!h) {
      r.failureReason = "TransportError";
      r.failureMessage = "GET " + url + ": curl_easy_init failed";
      return r;
    }
    CURL* c = h.get();
    Slist headers = setup(c, req, url, true);
    Transfer t;
    t.response = &r;
    t.stop = stop;
    t.onData = &onData;
    t.curl = c;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writeBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, readHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    // A stream is quiet for long stretches; a dead peer is caught by the
    // overall limit and by TCP keepalive.
    if (maxSeconds > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT, maxSeconds);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
    const auto start = SteadyClock::now();
    const CURLcode rc = curl_easy_perform(c);
    if (r.status == 0) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    if (rc != CURLE_OK && !t.endedByCaller && !t.error) setFailure(r, "GET", url, rc, errbuf, t);
    observe("WATCH", r, start, url, errbuf);
    if (t.error) std::rethrow_exception(t.error);
    return r;
  }
};

HttpTransport::HttpTransport(HttpOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
HttpTransport::~HttpTransport() = default;

const HttpOptions& HttpTransport::options() const {
  return impl_->opts;
}

HttpResponse HttpTransport::perform(const HttpRequest& req, std::stop_token stop) {
  return impl_->perform(req, stop);
}

HttpResponse HttpTransport::call(const HttpRequest& req, std::stop_token stop) {
  return impl_->call(req, stop);
}

HttpResponse HttpTransport::stream(const std::string& path,
                                   const std::function<bool(std::string_view)>& onData,
                                   std::stop_token stop, long maxSeconds) {
  return impl_->stream(path, onData, stop, maxSeconds);
}

}  // namespace kube
