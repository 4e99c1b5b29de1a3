// The Kubernetes API as the operator uses it: narrow interfaces shaped like
// controller-runtime's client (Reader, Writer, StatusWriter; a full Client
// adds watch and discovery), with three implementations:
//  - RestClient (below): the API server over HTTPS (runtime/http_transport.h);
//  - FakeClient (runtime/fake_client.h): an in-memory object tracker for
//    unit tests of controllers' wiring;
//  - ClientWrapper (runtime/client_wrapper.h): forwards every call, so a test
//    overrides only the call it breaks (FaultInjectingClient), as LevelDB's
//    EnvWrapper does.
//
// Every failure throws ApiError carrying the API server's Status (code,
// reason, message, causes). Objects are JSON in and out.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/config.h"
#include "runtime/errors.h"
#include "runtime/resource.h"

namespace kube {

struct ListOptions {
  std::string labelSelector{};
  std::string fieldSelector{};
  long limit = 0;  // 0: no paging
  std::string continueToken{};
  std::string resourceVersion{};
  std::string resourceVersionMatch{};  // "", Exact, NotOlderThan
};

struct WatchOptions {
  std::string labelSelector{};
  std::string fieldSelector{};
  std::string resourceVersion{};
  bool allowWatchBookmarks = true;
  long timeoutSeconds = 0;  // server-side end of the watch; 0: server default
};

struct WatchEvent {
  std::string type{};  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  nlohmann::json object;
};

struct DeleteOptions {
  std::optional<std::string> preconditionUid{};
  std::optional<std::string> preconditionResourceVersion{};
  std::string propagationPolicy{};  // "", Orphan, Background, Foreground
  std::optional<long> gracePeriodSeconds{};
};

enum class PatchType { Merge, Json, Apply, Strategic };

struct PatchOptions {
  std::string fieldManager{};  // required for Apply
  bool force = false;          // Apply: take ownership of conflicting fields
  std::string subresource{};   // "", status, scale
};

struct WriteOptions {
  std::string fieldManager{};
  std::string subresource{};  // "", status, scale
  bool dryRun = false;
};

// A page of a list: items plus the list's resourceVersion and continue token.
struct ListPage {
  std::vector<nlohmann::json> items{};
  std::string resourceVersion{};
  std::string continueToken{};
};

// Reads objects (controller-runtime's client.Reader).
class Reader {
 public:
  virtual ~Reader() = default;

  virtual nlohmann::json get(const Resource& r, const std::string& ns, const std::string& name,
                             const std::string& subresource = "") = 0;
  // One page (honours limit/continue).
  virtual ListPage listPage(const Resource& r, const std::string& ns,
                            const ListOptions& opts = {}) = 0;
  // Streams a list page by page, each item as the server's JSON text (a
  // view valid during the call): no tree is built, which is what lets an
  // informer hold 10,000 objects in a fraction of a parsed list's memory.
  // Returns the list's resourceVersion. A body that is not a JSON list
  // throws ApiError (reason BadResponse). The default pages through
  // listPage() and writes each item out.
  virtual std::string listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                                   const std::function<void(std::string_view)>& onItem);

  // All pages, concatenated; `opts.limit` sets the page size.
  ListPage list(const Resource& r, const std::string& ns, ListOptions opts = {});
  // Streams a list page by page without holding more than one page's JSON;
  // returns the list's resourceVersion.
  std::string listEach(const Resource& r, const std::string& ns, ListOptions opts,
                       const std::function<void(nlohmann::json&&)>& onItem);
};

// Creates, changes and deletes objects (controller-runtime's client.Writer).
class Writer {
 public:
  virtual ~Writer() = default;

  virtual nlohmann::json create(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                                const WriteOptions& opts = {}) = 0;
  // PUT with the object's metadata.resourceVersion: 409 Conflict when stale.
  virtual nlohmann::json update(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                                const WriteOptions& opts = {}) = 0;
  virtual nlohmann::json patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const nlohmann::json& body,
                               const PatchOptions& opts = {}) = 0;
  // Returns the final object when the server returns one (deletion pending,
  // finalizers), nullopt when it answered with a Status (gone already).
  virtual std::optional<nlohmann::json> del(const Resource& r, const std::string& ns,
                                            const std::string& name,
                                            const DeleteOptions& opts = {}) = 0;

  // Server-side apply (application/apply-patch+yaml; JSON is valid YAML):
  // patch() with PatchType::Apply and the object's metadata.name.
  nlohmann::json apply(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                       const std::string& fieldManager, bool force = true,
                       const std::string& subresource = "");
};

// Writes the status subresource (controller-runtime's client.StatusWriter).
class StatusWriter {
 public:
  virtual ~StatusWriter() = default;
  // PUT .../status with the object's resourceVersion.
  virtual nlohmann::json updateStatus(const Resource& r, const std::string& ns,
                                      const nlohmann::json& obj) = 0;
  // PATCH .../status.
  virtual nlohmann::json patchStatus(const Resource& r, const std::string& ns,
                                     const std::string& name, PatchType type,
                                     const nlohmann::json& body,
                                     const std::string& fieldManager = "") = 0;
};

// Everything a controller and its informers need.
class Client : public Reader, public Writer, public StatusWriter {
 public:
  // Streams watch events until the server ends the stream, `onEvent` returns
  // false, or `stop` is requested. Malformed frames throw ApiError (code 0,
  // reason "BadWatchFrame"). An ERROR frame is delivered to `onEvent` as is.
  virtual void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                     const std::function<bool(WatchEvent&&)>& onEvent,
                     std::stop_token stop = {}) = 0;

  // Discovery: does the server serve this group/version/resource?
  virtual bool isServed(const std::string& group, const std::string& version,
                        const std::string& resource) = 0;

  // Raw request, for what the verbs above do not cover. Returns the body.
  virtual std::string request(const std::string& method, const std::string& path,
                              const std::string& body = "",
                              const std::string& contentType = "application/json") = 0;

  // The status writer: update() and patch() of the status subresource.
  nlohmann::json updateStatus(const Resource& r, const std::string& ns,
                              const nlohmann::json& obj) override;
  nlohmann::json patchStatus(const Resource& r, const std::string& ns, const std::string& name,
                             PatchType type, const nlohmann::json& body,
                             const std::string& fieldManager = "") override;
};

// The object, or nullopt when the server answers NotFound
// (controller-runtime's client.IgnoreNotFound around a Get).
std::optional<nlohmann::json> getIfExists(Reader& reader, const Resource& r, const std::string& ns,
                                          const std::string& name);

// Runs `op`; a NotFound answer counts as done. Returns false when it was
// NotFound, so callers can log a no-op. Other errors propagate.
template <typename Op>
bool ignoreNotFound(Op&& op) {
  try {
    op();
    return true;
  } catch (const ApiError& e) {
    if (!e.isNotFound()) throw;
    return false;
  }
}

class HttpTransport;

// Requests a RestClient makes on this thread while a RequestStop is in
// scope end early when its token is requested, and so do their retries'
// waits (ApiError, code 0, reason Stopped). The controller puts each
// reconcile's stop token here, so a lost Lease or a reconcile timeout cuts
// the reconcile's I/O short without every call taking a token. Scopes nest;
// the innermost wins.
class RequestStop {
 public:
  explicit RequestStop(std::stop_token stop);
  ~RequestStop();
  RequestStop(const RequestStop&) = delete;
  RequestStop& operator=(const RequestStop&) = delete;
  // The token in scope on this thread; one that is never requested outside any scope.
  static std::stop_token current();

 private:
  std::stop_token previous_;
};

// The API server over HTTPS: requests are rate limited (QPS and burst),
// retried with backoff on 429, 5xx and transport errors (honouring
// Retry-After; see docs/runtime.md for which verbs), and counted in
// rest_client_* metrics.
class RestClient final : public Client {
 public:
  explicit RestClient(RestConfig config);
  ~RestClient() override;
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  const RestConfig& config() const;

  nlohmann::json get(const Resource& r, const std::string& ns, const std::string& name,
                     const std::string& subresource = "") override;
  ListPage listPage(const Resource& r, const std::string& ns,
                    const ListOptions& opts = {}) override;
  std::string listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                           const std::function<void(std::string_view)>& onItem) override;
  nlohmann::json create(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {}) override;
  nlohmann::json update(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {}) override;
  nlohmann::json patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const nlohmann::json& body,
                       const PatchOptions& opts = {}) override;
  std::optional<nlohmann::json> del(const Resource& r, const std::string& ns,
                                    const std::string& name,
                                    const DeleteOptions& opts = {}) override;
  void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
             const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop = {}) override;
  bool isServed(const std::string& group, const std::string& version,
                const std::string& resource) override;
  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "",
                      const std::string& contentType = "application/json") override;

 private:
  std::string call(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& contentType, bool idempotent);
  nlohmann::json callJson(const std::string& method, const std::string& path,
                          const std::string& body, const std::string& contentType, bool idempotent);

  RestConfig config_;
  std::unique_ptr<HttpTransport> http_;
};

// The query string of a list (labelSelector, fieldSelector, limit, ...).
std::string listQuery(const ListOptions& opts);

}  // namespace kube
