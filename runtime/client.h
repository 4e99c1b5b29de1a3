// A small generic Kubernetes REST client over libcurl: any group, version and
// resource, JSON in and out. Typed wrappers live with the types that use them.
//
// Every failure throws ApiError carrying the API server's Status. Requests are
// rate limited (QPS and burst), retried with backoff on 429, 5xx and transport
// errors (honouring Retry-After), and counted in rest_client_* metrics.
#pragma once

#include <atomic>
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

namespace kube {

// Identifies a resource type: core is group "", version "v1".
struct Resource {
  std::string group;     // "" for the core group
  std::string version;   // v1, v1alpha1, ...
  std::string resource;  // plural: configmaps, virtualmachines
  bool namespaced = true;
  std::string kind;  // optional, for messages and owner references

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // /api/v1 or /apis/GROUP/VERSION
  std::string basePath() const;
  // Collection path, in `ns` when namespaced and `ns` is non-empty (all namespaces otherwise).
  std::string collectionPath(const std::string& ns) const;
  std::string objectPath(const std::string& ns, const std::string& name) const;
};

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  long limit = 0;  // 0: no paging
  std::string continueToken;
  std::string resourceVersion;
  std::string resourceVersionMatch;  // "", Exact, NotOlderThan
};

struct WatchOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;
  bool allowWatchBookmarks = true;
  long timeoutSeconds = 0;  // server-side end of the watch; 0: server default
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  nlohmann::json object;
};

struct DeleteOptions {
  std::optional<std::string> preconditionUid;
  std::optional<std::string> preconditionResourceVersion;
  std::string propagationPolicy;  // "", Orphan, Background, Foreground
  std::optional<long> gracePeriodSeconds;
};

enum class PatchType { Merge, Json, Apply, Strategic };

struct PatchOptions {
  std::string fieldManager;  // required for Apply
  bool force = false;        // Apply: take ownership of conflicting fields
  std::string subresource;   // "", status, scale
};

struct WriteOptions {
  std::string fieldManager;
  std::string subresource;  // "", status, scale
  bool dryRun = false;
};

// A page of a list: items plus the list's resourceVersion and continue token.
struct ListPage {
  std::vector<nlohmann::json> items;
  std::string resourceVersion;
  std::string continueToken;
};

class Client {
 public:
  explicit Client(RestConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const RestConfig& config() const;

  nlohmann::json get(const Resource& r, const std::string& ns, const std::string& name,
                     const std::string& subresource = "");
  // One page (honours limit/continue).
  ListPage listPage(const Resource& r, const std::string& ns, const ListOptions& opts = {});
  // All pages, concatenated; `opts.limit` sets the page size.
  ListPage list(const Resource& r, const std::string& ns, ListOptions opts = {});
  // Streams a list page by page without holding more than one page's JSON;
  // returns the list's resourceVersion.
  std::string listEach(const Resource& r, const std::string& ns, ListOptions opts,
                       const std::function<void(nlohmann::json&&)>& onItem);
  // The same with each item as the server's JSON text (a view into the page's
  // body, valid during the call): no tree is built, which is what lets an
  // informer hold 10,000 objects in a fraction of a parsed list's memory.
  // A body that is not a JSON list throws ApiError (reason BadResponse).
  std::string listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                           const std::function<void(std::string_view)>& onItem);

  nlohmann::json create(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {});
  // PUT with the object's metadata.resourceVersion: 409 Conflict when stale.
  nlohmann::json update(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {});
  nlohmann::json updateStatus(const Resource& r, const std::string& ns, const nlohmann::json& obj);
  nlohmann::json patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const nlohmann::json& body, const PatchOptions& opts = {});
  // Server-side apply (application/apply-patch+yaml; JSON is valid YAML).
  nlohmann::json apply(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                       const std::string& fieldManager, bool force = true,
                       const std::string& subresource = "");
  // Returns the final object when the server returns one (deletion pending,
  // finalizers), nullopt when it answered with a Status (gone already).
  std::optional<nlohmann::json> del(const Resource& r, const std::string& ns,
                                    const std::string& name, const DeleteOptions& opts = {});

  // Streams watch events until the server ends the stream, `onEvent` returns
  // false, or `stop` is requested. Malformed frames throw ApiError (code 0,
  // reason "BadWatchFrame"). An ERROR frame is delivered to `onEvent` as is.
  void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
             const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop = {});

  // Discovery: does the server serve this group/version/resource?
  bool isServed(const std::string& group, const std::string& version, const std::string& resource);

  // Raw request, for what the verbs above do not cover. Returns the body.
  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "",
                      const std::string& contentType = "application/json");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// libcurl's global initialisation; call once from main before any thread starts.
void globalInit();

}  // namespace kube
