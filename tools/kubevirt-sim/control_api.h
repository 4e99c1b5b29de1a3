// The simulator's control API (JSON over HTTP, see README.md): request
// parsing and routing, free of sockets so that unit tests call it directly.
//
//   PUT  /load    {namespace, group | name, cpu, networkInBytesPerSecond,
//                  networkOutBytesPerSecond, requestsPerSecond}
//   GET  /load    the demands in force
//   POST /faults  {namespace, name, fault: crash | hang-boot | fail-health |
//                  hang-health | slow-boot, bootDelayMs (slow-boot)}
//                 or {namespace, name, clear: true}
//   GET  /vms     one entry per VM: namespace, name, phase, ip, node, ports, healthy, faults
//   GET  /metrics per-VMI metrics (Prometheus text)
//   GET  /healthz "ok"
//
// A bad request gets 400 with {"error": "..."} naming the field.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "tools/kubevirt-sim/load_model.h"

namespace kubec2::sim {

struct HttpRequest {
  std::string method;  // GET, PUT, ...
  std::string target;  // path and query
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  // True: send nothing; the connection stays open until the client closes it
  // (the hang-health fault). The other fields are ignored.
  bool noAnswer = false;
  static HttpResponse json(int status, const nlohmann::json& body);
  static HttpResponse error(int status, const std::string& message);
  static HttpResponse none();  // noAnswer
};

struct LoadRequest {
  LoadTarget target;
  Demand demand;
};

enum class FaultKind { Crash, HangBoot, FailHealth, HangHealth, SlowBoot };
const char* faultName(FaultKind k);

struct FaultRequest {
  std::string namespace_;
  std::string name;
  std::optional<FaultKind> fault;  // unset when clear
  long bootDelayMs = 0;            // slow-boot
  bool clear = false;
};

// Faults that last (crash is an event, not a state): they stay with the VM's
// name until cleared, so they also apply to the VMI that replaces a crashed one.
struct FaultSet {
  bool hangBoot = false;
  bool failHealth = false;
  bool hangHealth = false;
  std::optional<long> slowBootMs;
  bool empty() const { return !hangBoot && !failHealth && !hangHealth && !slowBootMs; }
  // ["hang-boot", "fail-health", "hang-health", "slow-boot:500ms"]
  nlohmann::json toJson() const;
};

// Either the request or the error message (naming the field).
std::variant<LoadRequest, std::string> parseLoadRequest(const std::string& body);
std::variant<FaultRequest, std::string> parseFaultRequest(const std::string& body);

// What the control API needs from the simulator.
class SimControl {
 public:
  virtual ~SimControl() = default;
  virtual HttpResponse setLoad(const LoadRequest& r) = 0;
  virtual HttpResponse applyFault(const FaultRequest& r) = 0;
  virtual nlohmann::json listVms() = 0;
  virtual nlohmann::json loads() = 0;
  virtual std::string metrics() = 0;
};

// Routes one request; never throws (an exception becomes a 500).
HttpResponse handleControl(SimControl& sim, const HttpRequest& req);

}  // namespace kubec2::sim
