// Clients around a client, after LevelDB's EnvWrapper and controller-runtime's
// client/interceptor:
//  - ClientWrapper forwards every call, so a subclass overrides only the
//    calls it changes;
//  - FaultInjectingClient fails chosen calls with the errors the API server
//    sends (409 Conflict, 500, 429 with Retry-After, a timeout) and records
//    every call, so a test shows that a controller retries, reports the
//    cause and never acts twice.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/client.h"
#include "runtime/clock.h"

namespace kube {

class ClientWrapper : public Client {
 public:
  // `target` must outlive the wrapper.
  explicit ClientWrapper(Client& target) : target_(target) {}
  // Not copyable: `ClientWrapper(otherWrapper)` would otherwise pick the copy
  // constructor and wrap the other wrapper's target, silently bypassing it
  // (a fault injector, the leader-only guard).
  ClientWrapper(const ClientWrapper&) = delete;
  ClientWrapper& operator=(const ClientWrapper&) = delete;
  Client& target() { return target_; }

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
  Client& target_;
};

// One call as the wrapper saw it.
struct ClientCall {
  // get, list, watch, create, update, patch, apply (a patch of type Apply),
  // delete, discovery, request.
  std::string verb{};
  std::string resource{};  // plural (discovery: the one asked about; "" for raw requests)
  std::string namespace_{};
  std::string name{};  // raw requests: the path
  std::string subresource{};
  bool failed = false;  // answered by an injected fault (before or after the target)
  // When the call was made, by the FaultInjectingClient's clock: a test with
  // a fake clock reads how long a controller waited before retrying.
  std::chrono::steady_clock::time_point at{};

  std::string str() const;  // "patch instances/web-1/status", for messages
};

// Which calls a fault hits; empty members match anything.
struct CallMatch {
  std::string verb{};
  std::string resource{};
  std::string name{};
  std::string subresource{};
  bool matches(const ClientCall& c) const;
};

class FaultInjectingClient final : public ClientWrapper {
 public:
  // `target` and `clock` (nullptr: the system clock) must outlive the wrapper.
  explicit FaultInjectingClient(Client& target, const Clock* clock = nullptr)
      : ClientWrapper(target), clock_(clock ? *clock : SystemClock::instance()) {}

  // When a fault strikes: before the call reaches the target (the server
  // never saw it), or after it did (the write happened, the answer was
  // lost: a timeout or a dropped connection after the server committed).
  enum class When { Before, After };

  // Fails `times` matching calls with `error`, after letting the first
  // `skip` matching calls through. Faults are checked in the order added;
  // the first that applies answers.
  void inject(CallMatch match, ApiError error, int times = 1, int skip = 0,
              When when = When::Before);
  // Every call so far, in order, with whether a fault answered it. A call
  // is recorded when its answer is back: another thread reading the
  // target may see a write's effect a moment before its record.
  std::vector<ClientCall> calls() const;
  // Calls that reached the target and match (recorded as calls() says).
  int succeeded(const CallMatch& match) const;
  // Faults still waiting to fire.
  int pendingFaults() const;
  void clear();

  // The errors the API server answers with.
  static ApiError conflict(const std::string& what = "the object has been modified");
  static ApiError internalError();
  static ApiError tooManyRequests(std::chrono::seconds retryAfter);
  static ApiError timeout();  // no answer: transport reason Timeout, code 0
  static ApiError notFound();

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
  struct Fault {
    CallMatch match;
    ApiError error;
    int times;
    int skip;
    When when;
  };
  // Records the call and runs `op` on the target between the faults that
  // strike before and after it.
  template <typename Op>
  auto guarded(ClientCall call, Op&& op) -> decltype(op());
  // The fault that strikes `call` at `when`, consumed; nullopt when none.
  std::optional<ApiError> strike(const ClientCall& call, When when);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_{};
  std::vector<ClientCall> calls_{};
};

}  // namespace kube
