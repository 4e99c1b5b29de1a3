#include "runtime/leader_election.h"

#include <unistd.h>

#include <array>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "runtime/errors.h"
#include "runtime/metrics.h"
#include "runtime/timefmt.h"

namespace kube {
namespace {

std::string stringField(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int intField(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}

// Runs a user callback without letting its exception tear down the elector
// (which would skip the release and leave the metric stale).
template <typename F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("leader election: {} callback threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("leader election: {} callback threw", what);
  }
}

}  // namespace

LeaderElectionRecord LeaderElectionRecord::fromLease(const nlohmann::json& lease) {
  LeaderElectionRecord r;
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return r;
  r.holderIdentity = stringField(*spec, "holderIdentity");
  r.leaseDurationSeconds = intField(*spec, "leaseDurationSeconds");
  r.acquireTime = stringField(*spec, "acquireTime");
  r.renewTime = stringField(*spec, "renewTime");
  r.leaseTransitions = intField(*spec, "leaseTransitions");
  return r;
}

void LeaderElectionRecord::writeTo(nlohmann::json& spec) const {
  if (!spec.is_object()) spec = nlohmann::json::object();
  spec["holderIdentity"] = holderIdentity;
  spec["leaseDurationSeconds"] = leaseDurationSeconds;
  if (!acquireTime.empty()) spec["acquireTime"] = acquireTime;
  if (!renewTime.empty()) spec["renewTime"] = renewTime;
  spec["leaseTransitions"] = leaseTransitions;
}

LeaseAction decideLease(const std::optional<LeaderElectionRecord>& current,
                        Clock::time_point observedAt, Clock::time_point now,
                        const std::string& identity) {
  if (!current) return LeaseAction::Create;
  if (current->holderIdentity == identity) return LeaseAction::Renew;
  if (current->holderIdentity.empty()) return LeaseAction::Acquire;
  const auto validUntil = observedAt + std::chrono::seconds(current->leaseDurationSeconds);
  return now < validUntil ? LeaseAction::Wait : LeaseAction::Acquire;
}

LeaderElectionRecord nextLeaseRecord(const std::optional<LeaderElectionRecord>& current,
                                     LeaseAction action, const std::string& identity,
                                     std::chrono::seconds leaseDuration,
                                     std::chrono::system_clock::time_point wallNow) {
  if (action == LeaseAction::Wait) {
    throw std::invalid_argument("nextLeaseRecord: nothing to write for LeaseAction::Wait");
  }
  LeaderElectionRecord r;
  r.holderIdentity = identity;
  r.leaseDurationSeconds = static_cast<int>(leaseDuration.count());
  r.renewTime = formatMicroTime(wallNow);
  r.acquireTime = r.renewTime;
  if (current && action == LeaseAction::Renew) {
    r.acquireTime = current->acquireTime.empty() ? r.renewTime : current->acquireTime;
    r.leaseTransitions = current->leaseTransitions;
  } else if (current) {
    r.leaseTransitions = current->leaseTransitions + 1;
  }
  return r;
}

LeaderElectionRecord releasedLeaseRecord(const LeaderElectionRecord& current,
                                         std::chrono::system_clock::time_point wallNow) {
  LeaderElectionRecord r;
  r.leaseDurationSeconds = 1;
  r.renewTime = formatMicroTime(wallNow);
  r.acquireTime = r.renewTime;
  r.leaseTransitions = current.leaseTransitions;
  return r;
}

std::string formatMicroTime(std::chrono::system_clock::time_point t) {
  return formatRfc3339(t, TimePrecision::Micros);
}

std::string defaultLeaderIdentity() {
  std::array<char, HOST_NAME_MAX + 1> host{};
  if (gethostname(host.data(), host.size()) != 0) host[0] = '\0';
  host.back() = '\0';
  std::random_device rd;
  std::array<unsigned, 4> w{rd(), rd(), rd(), rd()};
  w[1] = (w[1] & 0xffff0fffu) | 0x00004000u;  // UUID version 4
  w[2] = (w[2] & 0x3fffffffu) | 0x80000000u;  // RFC 4122 variant
  std::array<char, 40> uuid{};
  std::snprintf(uuid.data(), uuid.size(), "%08x-%04x-%04x-%04x-%04x%08x", w[0], w[1] >> 16,
                w[1] & 0xffffu, w[2] >> 16, w[2] & 0xffffu, w[3]);
  return std::string(host.data()) + "_" + uuid.data();
}

LeaderElector::LeaderElector(LeaderElectionOptions opts, std::unique_ptr<LeaseClient> client)
    : opts_(std::move(opts)),
      client_(std::move(client)),
      clock_(opts_.clock ? opts_.clock : &SystemClock::instance()),
      rng_(std::random_device{}()) {
  if (!client_) throw std::invalid_argument("leader election: no LeaseClient");
  if (opts_.name.empty()) throw std::invalid_argument("leader election: lease name is empty");
  if (opts_.identity.empty()) opts_.identity = defaultLeaderIdentity();
  // client-go's validation: the leader must give up (renewDeadline) before
  // anyone may take over (leaseDuration), and must get several tries first.
  if (opts_.leaseDuration < std::chrono::seconds(1)) {
    throw std::invalid_argument("leader election: leaseDuration must be at least 1s");
  }
  if (opts_.leaseDuration <= opts_.renewDeadline) {
    throw std::invalid_argument("leader election: leaseDuration must exceed renewDeadline");
  }
  if (opts_.retryPeriod.count() <= 0 || opts_.jitterFactor < 0) {
    throw std::invalid_argument("leader election: retryPeriod and jitterFactor must be positive");
  }
  const double jitterMs = opts_.jitterFactor * static_cast<double>(opts_.retryPeriod.count());
  if (static_cast<double>(opts_.renewDeadline.count()) <= jitterMs) {
    throw std::invalid_argument(
        "leader election: renewDeadline must exceed jitterFactor * retryPeriod");
  }
  metrics::leaderStatus(opts_.name).Set(0);
}

LeaderElector::~LeaderElector() = default;

bool LeaderElector::holdsLease() const {
  return leading_.load() && clock_->now().time_since_epoch().count() < holdsUntil_.load();
}

void LeaderElector::renewed(Clock::time_point start) {
  lastRenew_ = start;
  holdsUntil_ = (start + opts_.renewDeadline).time_since_epoch().count();
}

std::string LeaderElector::leader() const {
  std::lock_guard<std::mutex> l(leaderMu_);
  return reportedLeader_;
}

// By value, as std::jthread passes it.
void LeaderElector::run(std::stop_token stop) {  // NOLINT(performance-unnecessary-value-param)
  std::mutex mu;
  std::condition_variable cv;
  // Wakes the wait below; notifying under the mutex means the wake cannot
  // fall between the waiter's check of the token and its wait.
  std::stop_callback wake(stop, [&] {
    std::lock_guard<std::mutex> l(mu);
    cv.notify_all();
  });
  while (!stop.stop_requested()) {
    const auto next = tick();
    if (finished()) return;  // leadership lost; callbacks already ran
    std::unique_lock<std::mutex> lock(mu);
    while (!stop.stop_requested() && clock_->now() < next) clock_->waitUntil(cv, lock, next);
  }
  shutdown();
}

Clock::time_point LeaderElector::tick() {
  if (state_ == State::Done) return Clock::time_point::max();
  const auto start = clock_->now();
  if (state_ == State::Leading && start >= lastRenew_ + opts_.renewDeadline) {
    stopLeading("failed to renew the lease within the renew deadline");
    return Clock::time_point::max();
  }
  const Outcome outcome = tryAcquireOrRenew();
  const auto after = clock_->now();
  if (state_ == State::Candidate) {
    if (outcome != Outcome::Success) return after + jittered(opts_.retryPeriod);
    // Counted from before the write: others start their expiry clocks when
    // they see the write, which is later, so this errs on the safe side.
    renewed(start);
    startLeading();
    return after + opts_.retryPeriod;
  }
  if (outcome == Outcome::Success) {
    renewed(start);
    return after + opts_.retryPeriod;
  }
  if (outcome == Outcome::HeldByOther) {
    stopLeading("the lease is held by " + leader());
    return Clock::time_point::max();
  }
  const auto deadline = lastRenew_ + opts_.renewDeadline;
  if (after >= deadline) {
    stopLeading("failed to renew the lease within the renew deadline");
    return Clock::time_point::max();
  }
  return std::min(after + opts_.retryPeriod, deadline);
}

void LeaderElector::shutdown() {
  if (state_ == State::Done) return;
  const bool wasLeading = state_ == State::Leading;
  if (wasLeading) stopLeading("stopped");
  // Only after onStoppedLeading returned: leader-only work has stopped.
  if (wasLeading && opts_.releaseOnStop) release();
  state_ = State::Done;
}

LeaderElector::Outcome LeaderElector::tryAcquireOrRenew() {
  const auto now = clock_->now();
  const auto leaseDuration = std::chrono::duration_cast<std::chrono::seconds>(opts_.leaseDuration);
  std::optional<nlohmann::json> lease;
  try {
    lease = client_->get(opts_.namespace_, opts_.name);
  } catch (const std::exception& e) {
    spdlog::warn("leader election: reading lease {}/{}: {}", opts_.namespace_, opts_.name,
                 e.what());
    return Outcome::Failed;
  }

  if (!lease) {
    const auto rec = nextLeaseRecord(std::nullopt, LeaseAction::Create, opts_.identity,
                                     leaseDuration, clock_->wallNow());
    nlohmann::json obj = {{"apiVersion", "coordination.k8s.io/v1"},
                          {"kind", "Lease"},
                          {"metadata", {{"name", opts_.name}, {"namespace", opts_.namespace_}}},
                          {"spec", nlohmann::json::object()}};
    rec.writeTo(obj["spec"]);
    try {
      observe(client_->create(obj), now);
      return Outcome::Success;
    } catch (const ApiError& e) {
      // Another candidate created it first; the next attempt reads theirs.
      if (e.isAlreadyExists()) {
        spdlog::debug("leader election: lease {}/{} created concurrently", opts_.namespace_,
                      opts_.name);
      } else {
        spdlog::warn("leader election: creating lease {}/{}: {}", opts_.namespace_, opts_.name,
                     e.what());
      }
    } catch (const std::exception& e) {
      spdlog::warn("leader election: creating lease {}/{}: {}", opts_.namespace_, opts_.name,
                   e.what());
    }
    return Outcome::Failed;
  }

  observe(*lease, now);
  const LeaseAction action = decideLease(observed_, observedAt_, now, opts_.identity);
  if (action == LeaseAction::Wait) return Outcome::HeldByOther;

  nlohmann::json updated = *lease;
  nextLeaseRecord(observed_, action, opts_.identity, leaseDuration, clock_->wallNow())
      .writeTo(updated["spec"]);
  try {
    observe(client_->update(updated), now);
    return Outcome::Success;
  } catch (const ApiError& e) {
    if (e.isConflict()) {
      spdlog::debug("leader election: lease {}/{} changed concurrently", opts_.namespace_,
                    opts_.name);
    } else {
      spdlog::warn("leader election: updating lease {}/{}: {}", opts_.namespace_, opts_.name,
                   e.what());
    }
  } catch (const std::exception& e) {
    spdlog::warn("leader election: updating lease {}/{}: {}", opts_.namespace_, opts_.name,
                 e.what());
  }
  return Outcome::Failed;
}

void LeaderElector::observe(const nlohmann::json& lease, Clock::time_point now) {
  auto rec = LeaderElectionRecord::fromLease(lease);
  // Expiry is timed from the first sight of a record; re-reading the same
  // record must not restart the clock.
  if (!observed_ || *observed_ != rec) {
    observed_ = rec;
    observedAt_ = now;
  }
  if (rec.holderIdentity.empty()) return;
  {
    std::lock_guard<std::mutex> l(leaderMu_);
    if (rec.holderIdentity == reportedLeader_) return;
    reportedLeader_ = rec.holderIdentity;
  }
  spdlog::info("leader election: lease {}/{} is held by {}", opts_.namespace_, opts_.name,
               rec.holderIdentity);
  if (opts_.onNewLeader) guarded("onNewLeader", [&] { opts_.onNewLeader(rec.holderIdentity); });
}

void LeaderElector::startLeading() {
  state_ = State::Leading;
  leading_ = true;
  term_ = std::stop_source();
  metrics::leaderStatus(opts_.name).Set(1);
  spdlog::info("leader election: {} acquired lease {}/{}", opts_.identity, opts_.namespace_,
               opts_.name);
  if (opts_.onStartedLeading) {
    guarded("onStartedLeading", [&] { opts_.onStartedLeading(term_.get_token()); });
  }
}

void LeaderElector::stopLeading(const std::string& why) {
  state_ = State::Done;
  leading_ = false;
  holdsUntil_ = 0;
  term_.request_stop();
  metrics::leaderStatus(opts_.name).Set(0);
  spdlog::info("leader election: {} stopped leading lease {}/{}: {}", opts_.identity,
               opts_.namespace_, opts_.name, why);
  if (opts_.onStoppedLeading) guarded("onStoppedLeading", [&] { opts_.onStoppedLeading(); });
}

void LeaderElector::release() {
  // Re-read rather than trust the last write: if someone else holds it now,
  // it is not ours to release.
  try {
    auto lease = client_->get(opts_.namespace_, opts_.name);
    if (!lease) return;
    const auto current = LeaderElectionRecord::fromLease(*lease);
    if (current.holderIdentity != opts_.identity) return;
    releasedLeaseRecord(current, clock_->wallNow()).writeTo((*lease)["spec"]);
    observe(client_->update(*lease), clock_->now());
    spdlog::info("leader election: released lease {}/{}", opts_.namespace_, opts_.name);
  } catch (const std::exception& e) {
    // Not fatal: others take over when the lease expires.
    spdlog::warn("leader election: releasing lease {}/{}: {}", opts_.namespace_, opts_.name,
                 e.what());
  }
}

Clock::duration LeaderElector::jittered(Clock::duration d) {
  std::uniform_real_distribution<double> dist(0.0, opts_.jitterFactor);
  const double f = 1.0 + dist(rng_);
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, Clock::duration::period>(static_cast<double>(d.count()) * f));
}

}  // namespace kube
