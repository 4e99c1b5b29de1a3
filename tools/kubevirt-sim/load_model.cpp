#include "tools/kubevirt-sim/load_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "tools/kubevirt-sim/model.h"

namespace kubec2::sim {

namespace {

std::string key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

std::string number(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, p);
}

}  // namespace

std::string LoadTarget::describe() const {
  return group.empty() ? "vmi " + namespace_ + "/" + name : "group " + namespace_ + "/" + group;
}

std::string vmiLabelName(const std::string& k) {
  std::string out = "kubernetes_vmi_label_";
  out.reserve(out.size() + k.size());
  for (char c : k) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

std::string escapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

LoadModel::LoadModel(const kube::Clock& clock) : clock_(clock), last_(clock.now()) {}

bool LoadModel::inTarget(const LoadTarget& t, const VmiInfo& v) const {
  if (t.namespace_ != v.namespace_) return false;
  if (!t.group.empty()) {
    auto it = v.labels.find(kScalingGroupLabel);
    return it != v.labels.end() && it->second == t.group;
  }
  return t.name == v.name;
}

void LoadModel::settleLocked() {
  const auto now = clock_.now();
  const double dt = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  if (dt <= 0) return;
  for (auto& [k, e] : vmis_) {
    e.c.cpuSeconds += e.c.cpuRate * dt;
    for (double& s : e.c.vcpuSeconds) s += e.c.cpuRate / static_cast<double>(e.info.vcpus) * dt;
    e.c.rxBytes += e.c.rxRate * dt;
    e.c.txBytes += e.c.txRate * dt;
    e.c.httpRequests += e.c.requestRate * dt;
  }
}

void LoadModel::recomputeRatesLocked() {
  // Members per target first, then each VMI's share of every target it is in.
  std::map<LoadTarget, std::size_t> count;
  for (const auto& [t, d] : demands_) count[t] = 0;
  for (const auto& [k, e] : vmis_)
    for (auto& [t, n] : count)
      if (inTarget(t, e.info)) ++n;
  for (auto& [k, e] : vmis_) {
    double cpu = 0, rx = 0, tx = 0, requests = 0;
    for (const auto& [t, d] : demands_) {
      if (!inTarget(t, e.info)) continue;
      const double n = static_cast<double>(std::max<std::size_t>(1, count[t]));
      cpu += d.cpuCores / n;
      rx += d.networkInBytesPerSecond / n;
      tx += d.networkOutBytesPerSecond / n;
      requests += d.requestsPerSecond / n;
    }
    const double vcpus = static_cast<double>(std::max(1, e.info.vcpus));
    e.c.cpuRate = std::min(cpu, vcpus);
    e.c.rxRate = rx;
    e.c.txRate = tx;
    e.c.requestRate = requests;
    // Memory in use: 30% of the guest's memory at rest, up to 60% at full CPU.
    e.c.memoryUsedBytes = std::round(e.info.memoryBytes * (0.3 + 0.3 * (e.c.cpuRate / vcpus)));
  }
}

void LoadModel::setDemand(const LoadTarget& target, const Demand& d) {
  std::lock_guard l(mu_);
  settleLocked();
  if (d == Demand{})
    demands_.erase(target);
  else
    demands_[target] = d;
  recomputeRatesLocked();
}

std::vector<std::pair<LoadTarget, Demand>> LoadModel::demands() const {
  std::lock_guard l(mu_);
  return {demands_.begin(), demands_.end()};
}

void LoadModel::addVmi(const VmiInfo& info) {
  std::lock_guard l(mu_);
  settleLocked();
  auto [it, inserted] = vmis_.try_emplace(key(info.namespace_, info.name));
  it->second.info = info;
  it->second.info.vcpus = std::max(1, info.vcpus);
  it->second.c.vcpuSeconds.resize(static_cast<std::size_t>(it->second.info.vcpus), 0.0);
  recomputeRatesLocked();
}

void LoadModel::removeVmi(const std::string& ns, const std::string& name) {
  std::lock_guard l(mu_);
  settleLocked();
  vmis_.erase(key(ns, name));
  recomputeRatesLocked();
}

void LoadModel::countRequest(const std::string& ns, const std::string& name) {
  std::lock_guard l(mu_);
  settleLocked();  // keeps the simulated requests' integration exact
  auto it = vmis_.find(key(ns, name));
  if (it != vmis_.end()) it->second.c.httpRequests += 1;
}

std::optional<VmiCounters> LoadModel::counters(const std::string& ns, const std::string& name) {
  std::lock_guard l(mu_);
  settleLocked();
  auto it = vmis_.find(key(ns, name));
  if (it == vmis_.end()) return std::nullopt;
  return it->second.c;
}

std::size_t LoadModel::members(const LoadTarget& target) const {
  std::lock_guard l(mu_);
  std::size_t n = 0;
  for (const auto& [k, e] : vmis_)
    if (inTarget(target, e.info)) ++n;
  return n;
}

// The exposition text is written here rather than through prometheus-cpp:
// its registry keeps every series until removed one by one and has no notion
// of a series whose label set (the VMI's labels) changes, while the model
// already holds exactly the series that exist now; rendering them directly
// is a few lines and drops a stopped VMI's series at once, as virt-handler's
// collector (which also builds its series at scrape time) does.
std::string LoadModel::renderMetrics() {
  std::lock_guard l(mu_);
  settleLocked();
  struct Family {
    const char* name;
    const char* type;
    const char* help;
  };
  static const Family kFamilies[] = {
      {"kubevirt_vmi_cpu_usage_seconds_total", "counter",
       "Total CPU time spent in all modes (sum of both vcpu and hypervisor usage)."},
      {"kubevirt_vmi_vcpu_seconds_total", "counter",
       "Total amount of time spent in each state by each vcpu (cpu_time excluding hypervisor "
       "time)."},
      {"kubevirt_vmi_network_receive_bytes_total", "counter",
       "Total network traffic received in bytes."},
      {"kubevirt_vmi_network_transmit_bytes_total", "counter",
       "Total network traffic transmitted in bytes."},
      {"kubevirt_vmi_memory_used_bytes", "gauge", "Amount of used memory as seen by the domain."},
      {"kubec2_sim_http_requests_total", "counter",
       "HTTP requests answered on the VMI's ports plus the simulated requestsPerSecond "
       "(kubec2-kubevirt-sim)."},
  };
  std::vector<std::string> labels;  // per VMI, without the braces
  labels.reserve(vmis_.size());
  for (const auto& [k, e] : vmis_) {
    std::string s = "node=\"" + escapeLabelValue(e.info.node) + "\",namespace=\"" +
                    escapeLabelValue(e.info.namespace_) + "\",name=\"" +
                    escapeLabelValue(e.info.name) + "\"";
    // Two keys can sanitize to the same name (a.b and a-b); keep the first.
    std::map<std::string, std::string> byName;
    for (const auto& [lk, lv] : e.info.labels) byName.try_emplace(vmiLabelName(lk), lv);
    for (const auto& [n, v] : byName) s += "," + n + "=\"" + escapeLabelValue(v) + "\"";
    labels.push_back(std::move(s));
  }
  std::string out;
  out.reserve(256 + vmis_.size() * 6 * 256);
  for (std::size_t f = 0; f < std::size(kFamilies); ++f) {
    const Family& fam = kFamilies[f];
    out.append("# HELP ").append(fam.name).append(" ").append(fam.help).append("\n");
    out.append("# TYPE ").append(fam.name).append(" ").append(fam.type).append("\n");
    std::size_t i = 0;
    for (const auto& [k, e] : vmis_) {
      const std::string& ls = labels[i++];
      auto line = [&](const std::string& extra, double v) {
        out.append(fam.name).append("{").append(ls).append(extra).append("} ");
        out.append(number(v)).append("\n");
      };
      switch (f) {
        case 0:
          line("", e.c.cpuSeconds);
          break;
        case 1:
          for (std::size_t c = 0; c < e.c.vcpuSeconds.size(); ++c)
            line(",id=\"" + std::to_string(c) + "\",state=\"running\"", e.c.vcpuSeconds[c]);
          break;
        case 2:
          line(",interface=\"default\"", e.c.rxBytes);
          break;
        case 3:
          line(",interface=\"default\"", e.c.txBytes);
          break;
        case 4:
          line("", e.c.memoryUsedBytes);
          break;
        default:
          line("", e.c.httpRequests);
          break;
      }
    }
  }
  return out;
}

}  // namespace kubec2::sim
