// Active health checks, as Elastic Load Balancing performs them: an HTTP(S)
// GET of a path or a TCP connect, each target on its own interval, each check
// on a fresh connection and bounded by its timeout. The prober only performs
// checks and reports raw outcomes; what they mean (thresholds, states, the
// status matcher) is the caller's.
//
// One thread runs every check at once: libcurl's multi interface driven by
// curl_multi_socket_action over epoll. That API was chosen over
// curl_multi_poll because its cost per wake-up follows the sockets that are
// ready, not the number of checks in flight: targets that hang keep up to
// Options::maxInFlight transfers open for their whole timeout, and a
// poll-based loop would walk all of them on every event.
//
// HTTPS: the target's certificate is NOT verified (CURLOPT_SSL_VERIFYPEER and
// CURLOPT_SSL_VERIFYHOST off, for Https targets only), as ELB does not
// verify target certificates: targets are addressed by IP and commonly use
// self-signed certificates, and the check is about liveness, not identity.
// Nothing secret is sent. Every other use of TLS in the operator verifies.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "runtime/runnable.h"

namespace kube {

// What to check, and how often.
struct ProbeTarget {
  enum class Kind { Tcp, Http, Https };
  Kind kind = Kind::Http;
  std::string host;  // an IPv4 or IPv6 literal (no DNS); IPv6 without brackets
  int port = 80;     // 1..65535
  // Http/Https: the request path, starting with "/", with its query if any;
  // no spaces or control characters.
  std::string path = "/";
  std::chrono::milliseconds interval{30000};  // between checks of this target, > 0
  // The whole check (connect + answer), > 0, < interval.
  std::chrono::milliseconds timeout{5000};
  bool operator==(const ProbeTarget&) const = default;
};

// The raw outcome of one check.
struct ProbeResult {
  enum class Outcome { Answered, Connected, Timeout, ConnectFailed, Error };
  // Answered: an HTTP status, in httpStatus. Connected: a TCP check's connect
  // succeeded. Timeout: no answer (or no connection) within the timeout.
  // ConnectFailed: refused or unreachable. Error: anything else (TLS failure,
  // malformed answer, ...); error says what.
  std::string key;
  Outcome outcome = Outcome::Error;
  long httpStatus = 0;
  // From the start of the check (its connection attempt) to the prober
  // seeing its end; includes any delay of the prober's own loop.
  std::chrono::microseconds latency{0};
  std::string error{};                         // libcurl's message, for all but Answered/Connected
  std::chrono::system_clock::time_point at{};  // when it ended
};

const char* outcomeName(ProbeResult::Outcome o);  // "Answered", "Timeout", ...

// Checks targets by key on their own schedules and hands each result to the
// sink. A leader-only Runnable: checks run only while start() runs.
//
// Schedule: a new target's first check comes after a random delay in
// [0, interval), so that targets added together spread out; each next check
// is due at the previous due time + interval * (1 + U), U uniform in
// [-jitter/2, jitter/2], so a slow target does not drift. At most one check
// per target is in flight: one still running when the next is due skips that
// slot, and so do slots missed while the loop was behind (no bursts to catch
// up). At most maxInFlight checks run at once; due checks beyond that wait
// for a free slot (their latency still counts from their own start).
//
// Each check: a new connection (never reused), "Connection: close", a GET
// whose body is read and discarded up to 4 KiB (then the check ends as
// Answered: the status is all that counts), connect and whole-check timeouts
// both set to the target's timeout. Tcp: connect, then close.
class Prober : public Runnable {
 public:
  struct Options {
    std::size_t maxInFlight = 4096;  // > 0
    double jitter = 0.1;             // [0, 1]
    std::string name = "prober";     // the Runnable's name
    std::string userAgent = "kubec2-health-check";
  };
  // Called on the prober's thread for every finished check; must not block
  // (it delays every other check). An exception it throws is logged and
  // dropped.
  using Sink = std::function<void(const ProbeResult&)>;

  // Throws std::invalid_argument on an empty sink or options out of range.
  Prober(Sink sink, Options options);
  ~Prober() override;  // start() must have returned (the manager joins its runnables first)
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Adds or replaces a target, from any thread. A changed target restarts its
  // schedule (a check in flight for the old one is abandoned, its result not
  // delivered); an unchanged one keeps it. Throws std::invalid_argument on a
  // target out of the ranges above (naming the field).
  void upsert(const std::string& key, const ProbeTarget& target);
  // Stops checking the key, from any thread; a check in flight is
  // abandoned, its result not delivered. Once it returns, no result of the
  // key reaches the sink but one being handed to it at that moment. Unknown
  // keys are ignored.
  void remove(const std::string& key);
  std::size_t size() const;  // targets

  std::string name() const override;
  // The event loop, until `stop`; returns promptly on stop (checks in flight
  // are abandoned). Targets are kept across runs: after a new start() every
  // target's first check is spread again over [0, interval). Throws
  // std::runtime_error when libcurl or epoll cannot be set up, std::logic_error
  // when already running.
  void start(std::stop_token stop) override;
  bool needsLeaderElection() const override { return true; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kube
