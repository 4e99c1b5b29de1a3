#include "runtime/optional_api.h"

#include <thread>

#include "runtime/log.h"
#include "runtime/wait.h"

namespace kube {

OptionalApi::OptionalApi(Client& client, Options opts) : client_(client), opts_(std::move(opts)) {}

Informer<RawObject>& OptionalApi::informer(const Resource& r, InformerOptions opts) {
  if (r.namespaced && opts.namespace_.empty()) opts.namespace_ = opts_.namespace_;
  informers_.push_back(std::make_unique<Informer<RawObject>>(client_, r, std::move(opts)));
  return *informers_.back();
}

bool OptionalApi::synced() const {
  if (state() != State::Served) return false;
  for (const auto& i : informers_)
    if (!i->hasSynced()) return false;
  return true;
}

std::unique_ptr<Runnable> OptionalApi::runnable(std::shared_ptr<OptionalApi> api) {
  const std::string name = "optional-api-" + api->opts_.name;
  return makeRunnable(
      name, [api = std::move(api)](std::stop_token stop) { api->run(stop); },
      /*needsLeaderElection=*/false);
}

void OptionalApi::run(std::stop_token stop) {
  auto wait = [&](std::chrono::milliseconds d) { waitFor(*opts_.clock, d, stop); };
  bool loggedMissing = false;
  while (!stop.stop_requested()) {
    bool served = true;
    try {
      for (const auto& i : informers_) {
        const Resource& r = i->resource();
        if (!client_.isServed(r.group, r.version, r.resource)) served = false;
      }
    } catch (const std::exception& e) {
      // Not a verdict: the state stays Unknown rather than every object
      // being told the API is missing over one failed request.
      log::warn("Discovery failed; retrying", {{"api", opts_.name}, {"error", e.what()}});
      wait(opts_.retryPeriod);
      continue;
    }
    if (served) break;
    state_ = State::Missing;
    if (!loggedMissing) {
      std::string names;
      for (const auto& i : informers_)
        names +=
            (names.empty() ? "" : ", ") + i->resource().apiVersion() + " " + i->resource().resource;
      log::error(opts_.name + " is not installed: the API server does not serve " + names +
                 "; checking again every " + std::to_string(opts_.missingPeriod.count() / 1000) +
                 " s");
      loggedMissing = true;
    }
    wait(opts_.missingPeriod);
  }
  if (stop.stop_requested()) return;
  state_ = State::Served;
  log::info(opts_.name + " found: watching its resources");
  if (opts_.onServed) opts_.onServed();
  std::vector<std::jthread> threads;
  for (std::size_t i = 1; i < informers_.size(); ++i)
    threads.emplace_back([this, i, stop](std::stop_token) { informers_[i]->run(stop); });
  if (!informers_.empty()) informers_.front()->run(stop);
}

}  // namespace kube
