// Leader election on a coordination.k8s.io/v1 Lease, after client-go's
// tools/leaderelection, so that only one replica of the operator reconciles.
//
// The rules, as client-go's:
//  - A candidate creates the Lease when it is missing, or takes it over when
//    its holder is empty or has not renewed for leaseDurationSeconds. Expiry is
//    judged by when *this process* last saw the record change, on its own
//    monotonic clock, never by the remote renewTime: the clocks of two
//    machines need not agree, only tick at about the same rate.
//  - Every write is a PUT with the Lease's resourceVersion, so of two
//    candidates racing for the same expired Lease one wins and the other gets
//    409 Conflict and tries again later.
//  - The leader renews every retryPeriod. If it has not renewed for
//    renewDeadline (< leaseDuration, so it steps down before anyone may take
//    over) it stops leading and run() returns.
//  - On stop, the leader clears holderIdentity so that another replica takes
//    over at once instead of waiting for the lease to expire
//    (client-go's ReleaseOnCancel).
// Two departures from client-go, both towards safety: the leader steps down at
// once when it sees the Lease held by someone else (client-go waits out the
// renew deadline), and on stop it calls onStoppedLeading *before* releasing the
// Lease, so leader-only work has stopped before anyone else can start it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/clock.h"

namespace kube {

struct RestConfig;
class Client;

// The Lease spec fields leader election reads and writes (client-go's
// LeaderElectionRecord). Times are MicroTime: RFC 3339 with microseconds.
struct LeaderElectionRecord {
  std::string holderIdentity;
  int leaseDurationSeconds = 0;
  std::string acquireTime;
  std::string renewTime;
  int leaseTransitions = 0;

  // From a Lease object (its spec); missing fields stay empty/zero.
  static LeaderElectionRecord fromLease(const nlohmann::json& lease);
  // Writes the fields into `spec`, keeping any others (e.g. strategy).
  void writeTo(nlohmann::json& spec) const;
  bool operator==(const LeaderElectionRecord&) const = default;
};

// What a candidate should do about the Lease it just read.
enum class LeaseAction {
  Create,   // no Lease: create it, holding it
  Acquire,  // free or expired: take it over (leaseTransitions + 1)
  Renew,    // ours: renew it
  Wait,     // held by someone else and not expired
};

// The pure decision. `current` is the record just read (nullopt: no Lease);
// `observedAt` is when this process first saw that exact record, by its own
// clock. A Lease held by another is valid until observedAt +
// leaseDurationSeconds.
LeaseAction decideLease(const std::optional<LeaderElectionRecord>& current,
                        Clock::time_point observedAt, Clock::time_point now,
                        const std::string& identity);

// The record to write for `action` (Create, Acquire or Renew): acquireTime
// and leaseTransitions carried over on Renew, transitions counted on Acquire.
LeaderElectionRecord nextLeaseRecord(const std::optional<LeaderElectionRecord>& current,
                                     LeaseAction action, const std::string& identity,
                                     std::chrono::seconds leaseDuration,
                                     std::chrono::system_clock::time_point wallNow);

// The record that gives the Lease up: no holder and a 1 s duration, so others
// (including old clients that do not treat an empty holder as free) take over
// at once.
LeaderElectionRecord releasedLeaseRecord(const LeaderElectionRecord& current,
                                         std::chrono::system_clock::time_point wallNow);

// "2006-01-02T15:04:05.000000Z": metav1.MicroTime's format.
std::string formatMicroTime(std::chrono::system_clock::time_point t);

// hostname + "_" + a random UUID: unique per process even when two replicas
// share a host name.
std::string defaultLeaderIdentity();

// The narrow slice of the API the elector needs, so tests run without a server.
// Failures throw ApiError (409 Conflict on a stale resourceVersion, 409
// AlreadyExists on a create race).
class LeaseClient {
 public:
  virtual ~LeaseClient() = default;
  // nullopt when the Lease does not exist.
  virtual std::optional<nlohmann::json> get(const std::string& ns, const std::string& name) = 0;
  virtual nlohmann::json create(const nlohmann::json& lease) = 0;
  // PUT guarded by lease.metadata.resourceVersion.
  virtual nlohmann::json update(const nlohmann::json& lease) = 0;
};

// The LeaseClient over the API server. It owns a client of its own built
// from `config`, with no retries and `requestTimeout` per request: a renewal
// must fail fast and be retried by the elector within renewDeadline, not sit
// in the shared client's backoff (up to 5 retries of 30 s each), and Lease
// traffic must not queue behind the controllers' rate limit.
std::unique_ptr<LeaseClient> makeLeaseClient(const RestConfig& config,
                                             std::chrono::milliseconds requestTimeout);
// A LeaseClient over an existing client (tests with a FakeClient); `client`
// must outlive it.
std::unique_ptr<LeaseClient> makeLeaseClient(Client& client);

struct LeaderElectionOptions {
  std::string namespace_;
  std::string name;      // the Lease's name; also the leader_election_master_status label
  std::string identity;  // empty: defaultLeaderIdentity()
  std::chrono::milliseconds leaseDuration{15000};  // written in whole seconds
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
  // A candidate waits retryPeriod * [1, 1 + jitterFactor) between attempts
  // so that replicas started together do not hit the server in lockstep.
  double jitterFactor = 1.2;
  bool releaseOnStop = true;
  const Clock* clock = nullptr;  // nullptr: the system clock

  // Callbacks run on the elector's thread and must return promptly: a slow
  // callback delays renewals. onStartedLeading gets a token that is stopped
  // when leadership ends; start leader-only work elsewhere and stop it on that
  // token. onStoppedLeading is called only after having led, and must return
  // once leader-only work has stopped (the Lease is released after it).
  std::function<void(std::stop_token)> onStartedLeading;
  std::function<void()> onStoppedLeading;
  // A holder other than the last one seen (including this process). Not
  // called for an empty holder: that means "nobody", not a new leader.
  std::function<void(const std::string& identity)> onNewLeader;
};

class LeaderElector {
 public:
  // Throws std::invalid_argument unless name is set and
  // leaseDuration > renewDeadline > jitterFactor * retryPeriod > 0.
  LeaderElector(LeaderElectionOptions opts, std::unique_ptr<LeaseClient> client);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Campaigns, then leads, until `stop` is requested (then releases the Lease
  // and returns) or leadership is lost (then returns at once). Either way
  // onStoppedLeading has been called if this process led. Create a new
  // elector to campaign again.
  void run(std::stop_token stop);

  bool isLeader() const { return leading_.load(); }
  // Whether this process may act as leader now: it leads and renewed the
  // Lease less than renewDeadline ago, by its own monotonic clock. Others
  // take over only leaseDuration (> renewDeadline) after they saw the last
  // renewal, so a write sent while this holds cannot overlap another
  // leader's. It turns false at the deadline even when the elector's thread
  // has not run since (a process stopped by SIGSTOP and continued: every
  // thread wakes at once), so callers check it before each write rather
  // than trust isLeader(). Thread-safe.
  bool holdsLease() const;
  // The holder last seen on the Lease ("" before the first read).
  std::string leader() const;
  const std::string& identity() const { return opts_.identity; }

  // run() in pieces, for tests in simulated time and for callers with their
  // own loop. tick() does what is due now and returns when to call it next
  // (time_point::max() once finished); shutdown() ends leadership as on stop.
  Clock::time_point tick();
  void shutdown();
  bool finished() const { return state_ == State::Done; }

 private:
  enum class State { Candidate, Leading, Done };
  enum class Outcome { Success, HeldByOther, Failed };

  Outcome tryAcquireOrRenew();
  void observe(const nlohmann::json& lease, Clock::time_point now);
  void startLeading();
  void renewed(Clock::time_point start);  // a write that began at `start` succeeded
  void stopLeading(const std::string& why);
  void release();
  Clock::duration jittered(Clock::duration d);

  LeaderElectionOptions opts_;
  std::unique_ptr<LeaseClient> client_;
  const Clock* clock_;

  State state_ = State::Candidate;
  std::atomic<bool> leading_{false};
  std::optional<LeaderElectionRecord> observed_;
  Clock::time_point observedAt_{};
  Clock::time_point lastRenew_{};  // start of the last successful write
  // lastRenew_ + renewDeadline while leading, as a count of Clock ticks
  // since its epoch (read by other threads); the epoch when not leading.
  std::atomic<Clock::duration::rep> holdsUntil_{0};
  std::stop_source term_;  // stopped when a term of leadership ends
  std::mt19937_64 rng_;

  mutable std::mutex leaderMu_;
  std::string reportedLeader_;  // guarded by leaderMu_
};

}  // namespace kube
