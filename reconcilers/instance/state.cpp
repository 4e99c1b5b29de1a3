#include "reconcilers/instance/state.h"

#include <array>
#include <string_view>

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

constexpr const char* kUserShutdown = "Client.UserInitiatedShutdown";
constexpr const char* kUserShutdownMessage = "User initiated shutdown";
constexpr const char* kInternalError = "Server.InternalError";

// The string at j[a][b] (or j[a]), or "" when absent or not a string.
std::string str(const json* j, std::initializer_list<const char*> path) {
  if (j == nullptr) return "";
  const json* n = j;
  for (const char* k : path) {
    if (!n->is_object()) return "";
    const auto it = n->find(k);
    if (it == n->end()) return "";
    n = &*it;
  }
  return n->is_string() ? n->get<std::string>() : "";
}

// obj[key] when it is a string, else "".
std::string field(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// The condition of `type` in obj.status.conditions, or nullptr.
const json* condition(const json* obj, std::string_view type) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  const auto status = obj->find("status");
  if (status == obj->end() || !status->is_object()) return nullptr;
  const auto conds = status->find("conditions");
  if (conds == status->end() || !conds->is_array()) return nullptr;
  for (const json& c : *conds)
    if (field(c, "type") == type) return &c;
  return nullptr;
}

bool hasConditions(const json* obj) {
  if (obj == nullptr || !obj->is_object()) return false;
  const auto status = obj->find("status");
  if (status == obj->end() || !status->is_object()) return false;
  const auto conds = status->find("conditions");
  return conds != status->end() && conds->is_array() && !conds->empty();
}

// VM printableStatus values that mean the launch is stuck on an error,
// rather than on its way. The header's list plus CrashLoopBackOff (the VMI
// keeps failing; KubeVirt waits before the next start) and
// ErrorDataVolumeNotFound.
bool errorStatus(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kErrors = {
      "ErrorUnschedulable", "ErrImagePull",     "ImagePullBackOff",       "ErrorPvcNotFound",
      "DataVolumeError",    "CrashLoopBackOff", "ErrorDataVolumeNotFound"};
  for (std::string_view e : kErrors)
    if (s == e) return true;
  return false;
}

// The first non-empty message among the object's False conditions (and
// Failure conditions, which are True when something is wrong).
std::string problemMessage(const json* obj) {
  if (obj == nullptr) return "";
  for (const char* type : {"Failure", "Ready", "Synchronized", "ReconcileError"}) {
    const json* c = condition(obj, type);
    if (c == nullptr) continue;
    const std::string status = field(*c, "status");
    const bool bad = std::string_view(type) == "Failure" ? status == "True" : status == "False";
    const std::string message = field(*c, "message");
    if (bad && !message.empty()) return message;
  }
  return "";
}

std::optional<std::string> privateIP(const json* vmi) {
  if (vmi == nullptr || !vmi->is_object()) return std::nullopt;
  const auto status = vmi->find("status");
  if (status == vmi->end() || !status->is_object()) return std::nullopt;
  const auto ifaces = status->find("interfaces");
  if (ifaces == status->end() || !ifaces->is_array() || ifaces->empty()) return std::nullopt;
  const json& first = (*ifaces)[0];
  if (!first.is_object()) return std::nullopt;
  const std::string ip = field(first, "ipAddress");
  if (!ip.empty()) return ip;
  const auto ips = first.find("ipAddresses");
  if (ips != first.end() && ips->is_array() && !ips->empty() && (*ips)[0].is_string() &&
      !(*ips)[0].get<std::string>().empty())
    return (*ips)[0].get<std::string>();
  return std::nullopt;
}

}  // namespace

InstanceStateView observeState(const ObservedInstance& o) {
  InstanceStateView v;
  const std::string nodeName = str(o.vmi, {"status", "nodeName"});
  if (!nodeName.empty()) v.nodeName = nodeName;
  v.privateIP = privateIP(o.vmi);
  v.zone = o.nodeZone;

  if (o.deleting) {
    v.reasonCode = kUserShutdown;
    v.reasonMessage = kUserShutdownMessage;
    if (o.vm != nullptr || o.vmi != nullptr || o.volumesRemain) {
      v.state = "shutting-down";
      v.readyReason = "ShuttingDown";
      v.readyMessage = "The instance is being terminated";
    } else {
      v.state = "terminated";
      v.readyReason = "Terminated";
      v.readyMessage = "The instance is terminated";
      v.privateIP.reset();
      v.nodeName.reset();
    }
    return v;
  }

  if (!o.wantsRunning) {
    v.reasonCode = kUserShutdown;
    v.reasonMessage = kUserShutdownMessage;
    if (o.vmi != nullptr) {
      v.state = "stopping";
      v.readyReason = "Stopping";
      v.readyMessage = "The instance is stopping";
    } else {
      v.state = "stopped";
      v.readyReason = "Stopped";
      v.readyMessage = "The instance is stopped";
    }
    return v;
  }

  const std::string phase = str(o.vmi, {"status", "phase"});
  if (o.vmi != nullptr && phase == "Running") {
    v.state = "running";
    const json* ready = condition(o.vmi, "Ready");
    if (ready != nullptr) {
      v.ready = field(*ready, "status") == "True";
    } else {
      // A VMI without a Ready condition: Running is all there is to go by
      // when it reports no conditions at all; with other conditions but no
      // Ready, it is not ready yet.
      v.ready = !hasConditions(o.vmi);
    }
    if (v.ready) {
      v.readyReason = "Running";
      v.readyMessage = "The instance is running";
    } else {
      const std::string reason = ready != nullptr ? field(*ready, "reason") : "";
      const std::string message = ready != nullptr ? field(*ready, "message") : "";
      v.readyReason = reason.empty() ? "NotReady" : reason;
      v.readyMessage = message.empty() ? "The instance is running but not ready" : message;
    }
    return v;
  }

  v.state = "pending";
  const std::string printable = str(o.vm, {"status", "printableStatus"});
  if (o.vmi != nullptr && phase == "Failed") {
    v.reasonCode = kInternalError;
    std::string detail = str(o.vmi, {"status", "reason"});
    if (const std::string m = problemMessage(o.vmi); !m.empty())
      detail = detail.empty() ? m : detail + ": " + m;
    v.reasonMessage = "The virtual machine failed" +
                      (printable.empty() ? std::string() : " (" + printable + ")") +
                      (detail.empty() ? std::string() : ": " + detail) + "; KubeVirt restarts it";
    v.readyReason = "Failed";
    v.readyMessage = v.reasonMessage;
  } else if (errorStatus(printable)) {
    v.reasonCode = kInternalError;
    const std::string detail = problemMessage(o.vm);
    v.reasonMessage =
        "VirtualMachine status " + printable + (detail.empty() ? std::string() : ": " + detail);
    v.readyReason = printable;
    v.readyMessage = v.reasonMessage;
  } else {
    // One message for every step of a start (VM created, VMI scheduling,
    // booting): each new message would be one more status write per launch.
    v.readyReason = "Pending";
    v.readyMessage = "The instance is starting";
  }
  return v;
}

}  // namespace kubec2::reconcilers
