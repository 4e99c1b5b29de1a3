#include "tools/kubevirt-sim/model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <stdexcept>

#include "tools/kubevirt-sim/json_path.h"

namespace kubec2::sim {

namespace {

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int intOr(const json& j, int fallback) {
  if (j.is_number_integer()) return j.get<int>();
  if (j.is_number()) return static_cast<int>(j.get<double>());
  return fallback;
}

}  // namespace

// ---- Run strategies ---------------------------------------------------------

RunStrategy runStrategyOf(const json& vm) {
  const json& spec = field(vm, {"spec"});
  const std::string s = str(spec, "runStrategy");
  if (s == "Always") return RunStrategy::Always;
  if (s == "RerunOnFailure") return RunStrategy::RerunOnFailure;
  if (s == "Once") return RunStrategy::Once;
  if (s == "Manual") return RunStrategy::Manual;
  if (s == "Halted") return RunStrategy::Halted;
  if (s == "WaitAsReceiver") return RunStrategy::WaitAsReceiver;
  const json& running = field(spec, {"running"});
  if (running.is_boolean()) return running.get<bool>() ? RunStrategy::Always : RunStrategy::Halted;
  return RunStrategy::Halted;
}

const char* runStrategyName(RunStrategy s) {
  switch (s) {
    case RunStrategy::Always:
      return "Always";
    case RunStrategy::RerunOnFailure:
      return "RerunOnFailure";
    case RunStrategy::Once:
      return "Once";
    case RunStrategy::Manual:
      return "Manual";
    case RunStrategy::Halted:
      return "Halted";
    case RunStrategy::WaitAsReceiver:
      return "WaitAsReceiver";
  }
  return "Halted";
}

Desire desireOf(RunStrategy s) {
  switch (s) {
    case RunStrategy::Always:
    case RunStrategy::RerunOnFailure:
    case RunStrategy::Once:
      return Desire::Run;
    case RunStrategy::Halted:
      return Desire::Stop;
    case RunStrategy::Manual:
    case RunStrategy::WaitAsReceiver:
      return Desire::Leave;
  }
  return Desire::Leave;
}

bool restartsAfter(RunStrategy s, const std::string& phase) {
  if (s == RunStrategy::Always) return phase == "Failed" || phase == "Succeeded";
  if (s == RunStrategy::RerunOnFailure) return phase == "Failed";
  return false;
}

// ---- Phases -----------------------------------------------------------------

const char* phaseName(Phase p) {
  switch (p) {
    case Phase::None:
      return "";
    case Phase::Pending:
      return "Pending";
    case Phase::Scheduling:
      return "Scheduling";
    case Phase::Scheduled:
      return "Scheduled";
    case Phase::Running:
      return "Running";
    case Phase::Succeeded:
      return "Succeeded";
    case Phase::Failed:
      return "Failed";
  }
  return "";
}

Phase parsePhase(const std::string& s) {
  for (Phase p : {Phase::Pending, Phase::Scheduling, Phase::Scheduled, Phase::Running,
                  Phase::Succeeded, Phase::Failed})
    if (s == phaseName(p)) return p;
  return Phase::None;
}

bool isFinal(Phase p) {
  return p == Phase::Succeeded || p == Phase::Failed;
}

BootStep bootPhase(std::chrono::nanoseconds elapsed, std::chrono::nanoseconds delay, bool hang) {
  using std::chrono::nanoseconds;
  if (elapsed < nanoseconds::zero()) elapsed = nanoseconds::zero();
  if (delay <= nanoseconds::zero()) {
    return hang ? BootStep{Phase::Scheduled, std::nullopt} : BootStep{Phase::Running, std::nullopt};
  }
  const nanoseconds third = delay / 3;
  if (elapsed < third) return {Phase::Pending, third - elapsed};
  if (elapsed < 2 * third) return {Phase::Scheduling, 2 * third - elapsed};
  if (hang) return {Phase::Scheduled, std::nullopt};
  if (elapsed < delay) return {Phase::Scheduled, delay - elapsed};
  return {Phase::Running, std::nullopt};
}

std::chrono::nanoseconds phaseStart(Phase p, std::chrono::nanoseconds delay) {
  switch (p) {
    case Phase::None:
    case Phase::Pending:
      return std::chrono::nanoseconds::zero();
    case Phase::Scheduling:
      return delay / 3;
    case Phase::Scheduled:
      return 2 * (delay / 3);
    default:
      return delay;
  }
}

// ---- Nodes ----------------------------------------------------------------------

std::vector<SimNode> parseNodes(const std::string& flag) {
  std::vector<SimNode> out;
  std::set<std::string> names;
  std::size_t start = 0;
  while (start <= flag.size()) {
    const std::size_t comma = flag.find(',', start);
    const std::string item =
        flag.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      const std::size_t eq = item.find('=');
      SimNode n;
      n.name = item.substr(0, eq);
      n.zone = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (n.name.empty() || n.zone.empty())
        throw std::invalid_argument("node \"" + item + "\" is not NAME=ZONE");
      if (!names.insert(n.name).second)
        throw std::invalid_argument("node \"" + n.name + "\" is listed twice");
      out.push_back(std::move(n));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) throw std::invalid_argument("no nodes given");
  return out;
}

std::map<std::string, std::string> nodeLabels(const SimNode& n) {
  return {{kZoneLabel, n.zone},
          {"topology.kubernetes.io/region",
           n.zone.size() > 1 ? n.zone.substr(0, n.zone.size() - 1) : n.zone},
          {kHostnameLabel, n.name},
          {"kubernetes.io/os", "linux"},
          {"kubevirt.io/schedulable", "true"},
          {kSimulatedLabel, "true"}};
}

json renderNode(const SimNode& n) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       {{"name", n.name},
        {"labels", nodeLabels(n)},
        {"annotations",
         {{"kubevirt-sim.kubec2.io/note",
           "simulated by kubec2-kubevirt-sim (a test and demo tool); no kubelet runs here"}}}}}};
}

json renderNodeStatus(const SimNode& n, const std::string& heartbeatTime) {
  const json resources = {{"cpu", "64"}, {"memory", "256Gi"}, {"pods", "1000"}};
  return {{"capacity", resources},
          {"allocatable", resources},
          {"addresses", json::array({{{"type", "Hostname"}, {"address", n.name}}})},
          {"conditions", json::array({{{"type", "Ready"},
                                       {"status", "True"},
                                       {"reason", "KubeletReady"},
                                       {"message", "simulated by kubec2-kubevirt-sim"},
                                       {"lastHeartbeatTime", heartbeatTime},
                                       {"lastTransitionTime", heartbeatTime}}})}};
}

namespace {

bool requirementHolds(const json& req, const std::string& value, bool present) {
  const std::string op = str(req, "operator");
  std::vector<std::string> values;
  const json& vs = field(req, {"values"});
  if (vs.is_array())
    for (const auto& v : vs)
      if (v.is_string()) values.push_back(v.get<std::string>());
  const bool in = present && std::find(values.begin(), values.end(), value) != values.end();
  if (op == "In") return in;
  if (op == "NotIn") return !in;
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    if (!present || values.size() != 1) return false;
    try {
      const long long have = std::stoll(value), want = std::stoll(values[0]);
      return op == "Gt" ? have > want : have < want;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;  // unknown operator: the term cannot match
}

bool termMatches(const json& term, const std::string& nodeName,
                 const std::map<std::string, std::string>& labels) {
  const json& exprs = field(term, {"matchExpressions"});
  const json& fields = field(term, {"matchFields"});
  const bool hasExprs = exprs.is_array() && !exprs.empty();
  const bool hasFields = fields.is_array() && !fields.empty();
  if (!hasExprs && !hasFields) return false;  // an empty term matches nothing (as in Kubernetes)
  if (hasExprs) {
    for (const auto& r : exprs) {
      auto it = labels.find(str(r, "key"));
      if (!requirementHolds(r, it == labels.end() ? "" : it->second, it != labels.end()))
        return false;
    }
  }
  if (hasFields) {
    for (const auto& r : fields) {
      const bool isName = str(r, "key") == "metadata.name";
      if (!requirementHolds(r, isName ? nodeName : "", isName)) return false;
    }
  }
  return true;
}

}  // namespace

bool nodeEligible(const json& vmiSpec, const std::string& nodeName,
                  const std::map<std::string, std::string>& labels) {
  const json& selector = field(vmiSpec, {"nodeSelector"});
  if (selector.is_object()) {
    for (const auto& [k, v] : selector.items()) {
      auto it = labels.find(k);
      if (it == labels.end() || !v.is_string() || it->second != v.get<std::string>()) return false;
    }
  }
  const json& terms =
      field(vmiSpec, {"affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                      "nodeSelectorTerms"});
  if (terms.is_array() && !terms.empty()) {
    bool any = false;
    for (const auto& t : terms)
      if (termMatches(t, nodeName, labels)) {
        any = true;
        break;
      }
    if (!any) return false;
  }
  return true;
}

std::optional<SimNode> Scheduler::pick(const json& vmiSpec) {
  std::lock_guard l(mu_);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const std::size_t idx = (next_ + i) % nodes_.size();
    if (nodeEligible(vmiSpec, nodes_[idx].name, nodeLabels(nodes_[idx]))) {
      next_ = idx + 1;
      return nodes_[idx];
    }
  }
  return std::nullopt;
}

// ---- VM -> VMI ------------------------------------------------------------------

json renderVmi(const json& vm, const std::optional<std::string>& node) {
  const json& meta = field(vm, {"metadata"});
  const json& tmeta = field(vm, {"spec", "template", "metadata"});
  const json& tspec = field(vm, {"spec", "template", "spec"});
  json labels = json::object();
  if (const json& l = field(tmeta, {"labels"}); l.is_object() && !l.empty()) {
    labels = l;
  } else if (const json& vl = field(meta, {"labels"}); vl.is_object()) {
    // KubeVirt copies only the template's labels. But an API server whose
    // VirtualMachine CRD gives spec.template.metadata no properties and no
    // x-kubernetes-preserve-unknown-fields (third_party/kubevirt/crds as
    // derived from the OpenAPI document) prunes them, so a template never
    // has labels there: fall back to the VM's own, which the operator sets
    // to the same values, so that group selectors and metric labels work.
    labels = vl;
  }
  if (node) labels[kNodeNameLabel] = *node;
  json metadata = {{"name", str(meta, "name")},
                   {"namespace", str(meta, "namespace")},
                   {"labels", std::move(labels)},
                   {"ownerReferences", json::array({{{"apiVersion", "kubevirt.io/v1"},
                                                     {"kind", "VirtualMachine"},
                                                     {"name", str(meta, "name")},
                                                     {"uid", str(meta, "uid")},
                                                     {"controller", true},
                                                     {"blockOwnerDeletion", true}}})}};
  if (const json& a = field(tmeta, {"annotations"}); a.is_object() && !a.empty())
    metadata["annotations"] = a;
  return {{"apiVersion", "kubevirt.io/v1"},
          {"kind", "VirtualMachineInstance"},
          {"metadata", std::move(metadata)},
          {"spec", tspec.is_object() ? tspec : json::object()}};
}

std::vector<int> servedPorts(const json& vmiSpec, const std::vector<int>& httpPorts) {
  std::set<int> ports(httpPorts.begin(), httpPorts.end());
  const json& ifaces = field(vmiSpec, {"domain", "devices", "interfaces"});
  if (ifaces.is_array()) {
    for (const auto& i : ifaces) {
      const json& ps = field(i, {"ports"});
      if (!ps.is_array()) continue;
      for (const auto& p : ps) {
        std::string proto = str(p, "protocol");
        std::transform(proto.begin(), proto.end(), proto.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        const int port = intOr(field(p, {"port"}), 0);
        if ((proto.empty() || proto == "TCP") && port > 0 && port < 65536) ports.insert(port);
      }
    }
  }
  return {ports.begin(), ports.end()};
}

int vcpusOf(const json& vmiSpec) {
  const json& cpu = field(vmiSpec, {"domain", "cpu"});
  if (cpu.is_object() &&
      (cpu.contains("cores") || cpu.contains("sockets") || cpu.contains("threads"))) {
    const int n = std::max(1, intOr(field(cpu, {"cores"}), 1)) *
                  std::max(1, intOr(field(cpu, {"sockets"}), 1)) *
                  std::max(1, intOr(field(cpu, {"threads"}), 1));
    return n;
  }
  const json& req = field(vmiSpec, {"domain", "resources", "requests", "cpu"});
  std::optional<double> q;
  if (req.is_string()) q = parseQuantity(req.get<std::string>());
  if (req.is_number()) q = req.get<double>();
  if (q && *q > 0) return std::max(1, static_cast<int>(std::ceil(*q)));
  return 1;
}

double memoryBytesOf(const json& vmiSpec) {
  for (const json* j : {&field(vmiSpec, {"domain", "memory", "guest"}),
                        &field(vmiSpec, {"domain", "resources", "requests", "memory"}),
                        &field(vmiSpec, {"domain", "resources", "limits", "memory"})}) {
    if (j->is_number()) return j->get<double>();
    if (j->is_string())
      if (auto q = parseQuantity(j->get<std::string>())) return *q;
  }
  return 0;
}

// ---- Status ---------------------------------------------------------------------

json vmiStatus(const VmiStatusInputs& in) {
  json s = {{"phase", phaseName(in.phase)}};
  const bool placed = in.phase == Phase::Scheduled || in.phase == Phase::Running;
  s["nodeName"] = placed && !in.node.empty() ? json(in.node) : json(nullptr);
  if (in.phase == Phase::Running && !in.ip.empty()) {
    s["interfaces"] = json::array({{{"name", "default"},
                                    {"interfaceName", "eth0"},
                                    {"infoSource", "domain, guest-agent"},
                                    {"ipAddress", in.ip},
                                    {"ipAddresses", json::array({in.ip})}}});
  } else {
    s["interfaces"] = nullptr;
  }
  s["reason"] = in.phase == Phase::Failed && !in.failureReason.empty() ? json(in.failureReason)
                                                                       : json(nullptr);
  json conds = json::array();
  if (in.phase == Phase::Scheduling && in.unschedulable) {
    conds.push_back({{"type", "PodScheduled"},
                     {"status", "False"},
                     {"reason", "Unschedulable"},
                     {"message", in.unschedulableMessage}});
  }
  if (in.phase == Phase::Running) {
    conds.push_back({{"type", "Ready"}, {"status", "True"}});
    conds.push_back({{"type", "LiveMigratable"},
                     {"status", "False"},
                     {"reason", "InterfaceNotLiveMigratable"},
                     {"message", "simulated VMIs do not migrate"}});
  } else if (in.phase != Phase::Pending) {
    conds.push_back({{"type", "Ready"},
                     {"status", "False"},
                     {"reason", in.phase == Phase::Failed ? "VMIFailed" : "GuestNotRunning"}});
  }
  s["conditions"] = conds.empty() ? json(nullptr) : conds;
  return s;
}

std::string printableStatus(const VmView& v) {
  if (v.vmDeleting) return "Terminating";
  // KubeVirt's order (updateStatus in its VM controller): Terminating,
  // Stopping, Running, ..., DataVolumeError, Unschedulable, Provisioning,
  // ..., Starting, CrashLoopBackOff, Stopped.
  if (v.dataVolumeError || v.provisioning) {
    if (v.vmiExists && v.vmiDeleting) return "Stopping";
    if (v.vmiExists && v.vmiPhase == Phase::Running) return "Running";
    if (v.dataVolumeError) return "DataVolumeError";
    if (v.vmiExists && v.vmiPhase == Phase::Scheduling && v.unschedulable)
      return "ErrorUnschedulable";
    return "Provisioning";
  }
  if (!v.vmiExists) return "Stopped";
  if (v.vmiDeleting) return "Stopping";
  switch (v.vmiPhase) {
    case Phase::None:
    case Phase::Pending:
    case Phase::Scheduled:
      return "Starting";
    case Phase::Scheduling:
      return v.unschedulable ? "ErrorUnschedulable" : "Starting";
    case Phase::Running:
      return "Running";
    case Phase::Failed:
      return restartsAfter(v.strategy, "Failed") ? "CrashLoopBackOff" : "Stopped";
    case Phase::Succeeded:
      return restartsAfter(v.strategy, "Succeeded") ? "Starting" : "Stopped";
  }
  return "Unknown";
}

json vmStatus(const VmView& v) {
  const std::string printable = printableStatus(v);
  const bool ready = printable == "Running";
  const bool created = v.vmiExists && !v.vmiDeleting;
  json ready_cond = {{"type", "Ready"}, {"status", ready ? "True" : "False"}};
  if (!ready) {
    ready_cond["reason"] = !v.vmiExists ? "VMINotExists" : "GuestNotRunning";
    ready_cond["message"] = !v.vmiExists ? "VMI does not exist" : "the guest is not running";
  }
  json s = {{"printableStatus", printable},
            {"ready", ready},
            {"created", created},
            {"runStrategy", runStrategyName(v.strategy)},
            {"conditions", json::array({ready_cond})}};
  if (v.failCount > 0 && !ready) {
    s["startFailure"] = {{"consecutiveFailCount", v.failCount},
                         {"lastFailedVMIUID", v.lastFailedUid}};
  } else {
    s["startFailure"] = nullptr;
  }
  return s;
}

json withTransitionTimes(json desired, const json& current, const std::string& now) {
  auto it = desired.find("conditions");
  if (it == desired.end() || !it->is_array()) return desired;
  const json& old = field(current, {"conditions"});
  for (auto& c : *it) {
    std::string time = now;
    if (old.is_array()) {
      for (const auto& o : old) {
        if (str(o, "type") == str(c, "type") && str(o, "status") == str(c, "status") &&
            o.contains("lastTransitionTime")) {
          time = str(o, "lastTransitionTime");
          break;
        }
      }
    }
    c["lastProbeTime"] = nullptr;
    c["lastTransitionTime"] = time;
  }
  return desired;
}

bool satisfies(const json& current, const json& patch) {
  if (!patch.is_object()) return current == patch;
  for (const auto& [k, v] : patch.items()) {
    const bool has = current.is_object() && current.contains(k) && !current.at(k).is_null();
    if (v.is_null()) {
      if (has) return false;
      continue;
    }
    if (!has) return false;
    const json& cur = current.at(k);
    if (v.is_object()) {
      if (!satisfies(cur, v)) return false;
    } else if (v.is_array() && cur.is_array() && v.size() == cur.size()) {
      // Arrays are replaced whole by a merge patch; compare items without
      // their null fields (which the server does not store).
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!satisfies(cur[i], v[i])) return false;
      if (v.size() != cur.size()) return false;
    } else if (cur != v) {
      return false;
    }
  }
  return true;
}

std::optional<std::uint32_t> parseIpv4(const std::string& s) {
  std::uint32_t out = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    unsigned v = 0;
    std::size_t digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
      if (++digits > 3 || v > 255) return std::nullopt;
    }
    out = (out << 8) | v;
    ++parts;
    if (parts < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

std::string formatIpv4(std::uint32_t ip) {
  return std::to_string((ip >> 24) & 255) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

}  // namespace kubec2::sim
