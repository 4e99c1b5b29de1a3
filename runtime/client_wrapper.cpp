#include "runtime/client_wrapper.h"

#include <type_traits>

namespace kube {

using nlohmann::json;

// ------------------------------------------------------------ ClientWrapper

json ClientWrapper::get(const Resource& r, const std::string& ns, const std::string& name,
                        const std::string& subresource) {
  return target_.get(r, ns, name, subresource);
}
ListPage ClientWrapper::listPage(const Resource& r, const std::string& ns,
                                 const ListOptions& opts) {
  return target_.listPage(r, ns, opts);
}
std::string ClientWrapper::listEachText(const Resource& r, const std::string& ns, ListOptions opts,
                                        const std::function<void(std::string_view)>& onItem) {
  return target_.listEachText(r, ns, std::move(opts), onItem);
}
json ClientWrapper::create(const Resource& r, const std::string& ns, const json& obj,
                           const WriteOptions& opts) {
  return target_.create(r, ns, obj, opts);
}
json ClientWrapper::update(const Resource& r, const std::string& ns, const json& obj,
                           const WriteOptions& opts) {
  return target_.update(r, ns, obj, opts);
}
json ClientWrapper::patch(const Resource& r, const std::string& ns, const std::string& name,
                          PatchType type, const json& body, const PatchOptions& opts) {
  return target_.patch(r, ns, name, type, body, opts);
}
std::optional<json> ClientWrapper::del(const Resource& r, const std::string& ns,
                                       const std::string& name, const DeleteOptions& opts) {
  return target_.del(r, ns, name, opts);
}
void ClientWrapper::watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                          const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop) {
  target_.watch(r, ns, opts, onEvent, stop);
}
bool ClientWrapper::isServed(const std::string& group, const std::string& version,
                             const std::string& resource) {
  return target_.isServed(group, version, resource);
}
std::string ClientWrapper::request(const std::string& method, const std::string& path,
                                   const std::string& body, const std::string& contentType) {
  return target_.request(method, path, body, contentType);
}

// ------------------------------------------------------------ faults

std::string ClientCall::str() const {
  std::string s = verb + " " + resource;
  if (!name.empty()) s += "/" + name;
  if (!subresource.empty()) s += "/" + subresource;
  return s;
}

bool CallMatch::matches(const ClientCall& c) const {
  return (verb.empty() || verb == c.verb) && (resource.empty() || resource == c.resource) &&
         (name.empty() || name == c.name) && (subresource.empty() || subresource == c.subresource);
}

void FaultInjectingClient::inject(CallMatch match, ApiError error, int times, int skip, When when) {
  std::lock_guard l(mu_);
  faults_.push_back({std::move(match), std::move(error), times, skip, when});
}

std::vector<ClientCall> FaultInjectingClient::calls() const {
  std::lock_guard l(mu_);
  return calls_;
}

int FaultInjectingClient::succeeded(const CallMatch& match) const {
  std::lock_guard l(mu_);
  int n = 0;
  for (const auto& c : calls_)
    if (!c.failed && match.matches(c)) ++n;
  return n;
}

int FaultInjectingClient::pendingFaults() const {
  std::lock_guard l(mu_);
  int n = 0;
  for (const auto& f : faults_) n += f.times;
  return n;
}

void FaultInjectingClient::clear() {
  std::lock_guard l(mu_);
  faults_.clear();
  calls_.clear();
}

std::optional<ApiError> FaultInjectingClient::strike(const ClientCall& call, When when) {
  std::lock_guard l(mu_);
  for (auto& f : faults_) {
    if (f.when != when || f.times <= 0 || !f.match.matches(call)) continue;
    if (f.skip > 0) {
      --f.skip;
      continue;
    }
    --f.times;
    return f.error;
  }
  return std::nullopt;
}

template <typename Op>
auto FaultInjectingClient::guarded(ClientCall call, Op&& op) -> decltype(op()) {
  call.at = clock_.now();
  if (auto e = strike(call, When::Before)) {
    call.failed = true;
    std::lock_guard l(mu_);
    calls_.push_back(std::move(call));
    throw *e;
  }
  auto record = [&](bool failed) {
    call.failed = failed;
    std::lock_guard l(mu_);
    calls_.push_back(call);
  };
  if constexpr (std::is_void_v<decltype(op())>) {
    op();
    if (auto e = strike(call, When::After)) {
      record(true);
      throw *e;
    }
    record(false);
  } else {
    auto result = op();
    if (auto e = strike(call, When::After)) {
      record(true);
      throw *e;
    }
    record(false);
    return result;
  }
}

ApiError FaultInjectingClient::conflict(const std::string& what) {
  return ApiError(Status{409,
                         "Conflict",
                         "Operation cannot be fulfilled: " + what +
                             "; please apply your changes to the latest version and try again",
                         {},
                         {}});
}
ApiError FaultInjectingClient::internalError() {
  return ApiError(Status{500, "InternalError", "Internal error occurred: injected", {}, {}});
}
ApiError FaultInjectingClient::tooManyRequests(std::chrono::seconds retryAfter) {
  return ApiError(
      Status{429, "TooManyRequests", "the server has received too many requests", {}, retryAfter});
}
ApiError FaultInjectingClient::timeout() {
  return ApiError(Status{0, "Timeout", "injected: operation timed out", {}, {}});
}
ApiError FaultInjectingClient::notFound() {
  return ApiError(Status{404, "NotFound", "injected: not found", {}, {}});
}

json FaultInjectingClient::get(const Resource& r, const std::string& ns, const std::string& name,
                               const std::string& subresource) {
  return guarded({"get", r.resource, ns, name, subresource},
                 [&] { return ClientWrapper::get(r, ns, name, subresource); });
}
ListPage FaultInjectingClient::listPage(const Resource& r, const std::string& ns,
                                        const ListOptions& opts) {
  return guarded({"list", r.resource, ns, "", ""},
                 [&] { return ClientWrapper::listPage(r, ns, opts); });
}
std::string FaultInjectingClient::listEachText(
    const Resource& r, const std::string& ns, ListOptions opts,
    const std::function<void(std::string_view)>& onItem) {
  return guarded({"list", r.resource, ns, "", ""},
                 [&] { return ClientWrapper::listEachText(r, ns, std::move(opts), onItem); });
}
json FaultInjectingClient::create(const Resource& r, const std::string& ns, const json& obj,
                                  const WriteOptions& opts) {
  const json meta = obj.is_object() ? obj.value("metadata", json::object()) : json::object();
  return guarded({"create", r.resource, ns, meta.value("name", ""), opts.subresource},
                 [&] { return ClientWrapper::create(r, ns, obj, opts); });
}
json FaultInjectingClient::update(const Resource& r, const std::string& ns, const json& obj,
                                  const WriteOptions& opts) {
  const json meta = obj.is_object() ? obj.value("metadata", json::object()) : json::object();
  return guarded({"update", r.resource, ns, meta.value("name", ""), opts.subresource},
                 [&] { return ClientWrapper::update(r, ns, obj, opts); });
}
json FaultInjectingClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                                 PatchType type, const json& body, const PatchOptions& opts) {
  return guarded(
      {type == PatchType::Apply ? "apply" : "patch", r.resource, ns, name, opts.subresource},
      [&] { return ClientWrapper::patch(r, ns, name, type, body, opts); });
}
std::optional<json> FaultInjectingClient::del(const Resource& r, const std::string& ns,
                                              const std::string& name, const DeleteOptions& opts) {
  return guarded({"delete", r.resource, ns, name, ""},
                 [&] { return ClientWrapper::del(r, ns, name, opts); });
}
void FaultInjectingClient::watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                                 const std::function<bool(WatchEvent&&)>& onEvent,
                                 std::stop_token stop) {
  guarded({"watch", r.resource, ns, "", ""},
          [&] { ClientWrapper::watch(r, ns, opts, onEvent, stop); });
}
bool FaultInjectingClient::isServed(const std::string& group, const std::string& version,
                                    const std::string& resource) {
  return guarded({"discovery", resource, "", "", ""},
                 [&] { return ClientWrapper::isServed(group, version, resource); });
}
std::string FaultInjectingClient::request(const std::string& method, const std::string& path,
                                          const std::string& body, const std::string& contentType) {
  return guarded({"request", "", "", path, ""},
                 [&] { return ClientWrapper::request(method, path, body, contentType); });
}

}  // namespace kube
