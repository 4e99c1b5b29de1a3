#include "tools/kubevirt-sim/simulator.h"

#include "runtime/wait.h"

#include <algorithm>
#include <condition_variable>
#include <stdexcept>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/timefmt.h"
#include "tools/kubevirt-sim/json_path.h"

namespace kubec2::sim {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace {

const kube::log::Logger& logger() {
  static const kube::log::Logger l("kubevirt-sim");
  return l;
}

// Is resourceVersion `a` older than `b`? Resource versions are etcd
// revisions here; when either is not a number, only equality is known.
bool olderThan(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a.empty() && !b.empty();
  try {
    return std::stoull(a) < std::stoull(b);
  } catch (const std::exception&) {
    return false;
  }
}

int rank(Phase p) {
  switch (p) {
    case Phase::None:
      return 0;
    case Phase::Pending:
      return 1;
    case Phase::Scheduling:
      return 2;
    case Phase::Scheduled:
      return 3;
    case Phase::Running:
      return 4;
    case Phase::Succeeded:
    case Phase::Failed:
      return 5;
  }
  return 0;
}

kube::PatchOptions statusOpts() {
  kube::PatchOptions o;
  o.fieldManager = "kubevirt-sim";
  o.subresource = "status";
  return o;
}

milliseconds atLeast1ms(nanoseconds d) {
  return std::max(milliseconds(1), duration_cast<milliseconds>(d) + milliseconds(1));
}

}  // namespace

Simulator::Simulator(kube::Manager& mgr, SimulatorOptions opts)
    : opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : kube::SystemClock::instance()),
      client_(mgr.client()),
      vms_(mgr.informer<kube::RawObject>(kVirtualMachines, {.namespace_ = opts_.namespace_})),
      vmis_(mgr.informer<kube::RawObject>(kVirtualMachineInstances,
                                          {.namespace_ = opts_.namespace_})),
      scheduler_(opts_.nodes),
      ips_(opts_.ipStart),
      load_(clock_) {
  kube::WorkQueueOptions q;
  // Many keys fail together when the API server is away: let them retry soon.
  q.qps = 100;
  q.burst = 1000;
  q.clock = opts_.clock;
  if (opts_.cdi || opts_.snapshots) {
    StorageOptions so;
    so.namespace_ = opts_.namespace_;
    so.cdi = opts_.cdi;
    so.snapshots = opts_.snapshots;
    so.vmSnapshots = opts_.vmSnapshots;
    so.snapshotDelay = opts_.snapshotDelay;
    so.workers = opts_.workers;
    so.clock = opts_.clock;
    storage_ = std::make_unique<StorageSim>(mgr, so);
  }
  kube::ControllerBuilder b(mgr, "kubevirt-sim");
  b.forResource(vms_).watches(vmis_, [](const kube::ObjectMeta& m) {
    return std::vector<kube::Request>{{m.namespace_, m.name}};
  });
  if (storage_ && storage_->dataVolumes()) {
    // A DataVolume's progress concerns the VM that owns it, and any VM of
    // its namespace whose volumes name it.
    auto* vms = &vms_;
    b.watches(*storage_->dataVolumes(), [vms](const kube::ObjectMeta& m) {
      std::vector<kube::Request> out;
      const kube::OwnerReference* ref = m.controllerRef();
      if (ref && ref->kind == "VirtualMachine") out.push_back({m.namespace_, ref->name});
      for (const auto& vm : vms->store().byNamespace(m.namespace_)) {
        if (ref && ref->kind == "VirtualMachine" && vm->metadata.name == ref->name) continue;
        // Most VMs never name this DataVolume: skip them unparsed.
        if (vm->json.find('"' + m.name + '"') == std::string::npos) continue;
        const auto names = vmDataVolumeNames(vm->toJson());
        if (std::find(names.begin(), names.end(), m.name) != names.end())
          out.push_back({m.namespace_, vm->metadata.name});
      }
      return out;
    });
  }
  controller_ =
      &b.withMaxConcurrentReconciles(std::max(1, opts_.workers))
           .withQueueOptions(q)
           .complete(kube::reconcilerFunc([this](const kube::Request& r) { return reconcile(r); }));
}

Simulator::~Simulator() {
  servers_.stop();
}

std::string Simulator::now() const {
  return kube::formatRfc3339(clock_.wallNow());
}

// ---- Nodes ----------------------------------------------------------------------

void Simulator::ensureNodes() {
  for (const SimNode& n : opts_.nodes) {
    const json node = renderNode(n);
    try {
      client_.create(kNodes, "", node);
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists()) throw;
      client_.patch(kNodes, "", n.name, kube::PatchType::Merge, {{"metadata", node["metadata"]}});
    }
    client_.patch(kNodes, "", n.name, kube::PatchType::Merge,
                  {{"status", renderNodeStatus(n, now())}}, statusOpts());
    logger().info("Node ready", {{"node", n.name}, {"zone", n.zone}});
  }
}

std::unique_ptr<kube::Runnable> Simulator::nodeHeartbeat() {
  return kube::makeRunnable(
      "node-heartbeat",
      [this](std::stop_token stop) {
        while (kube::waitFor(kube::SystemClock::instance(), opts_.nodeHeartbeat, stop)) {
          try {
            const std::string t = now();
            for (const SimNode& n : opts_.nodes) {
              client_.patch(kNodes, "", n.name, kube::PatchType::Merge,
                            {{"status", {{"conditions", renderNodeStatus(n, t)["conditions"]}}}},
                            statusOpts());
            }
          } catch (const kube::ApiError& e) {
            if (e.isNotFound()) {
              try {
                ensureNodes();  // someone deleted a node: bring it back
              } catch (const std::exception& e2) {
                logger().warn("Recreating nodes", {{"error", e2.what()}});
              }
            } else {
              logger().warn("Node heartbeat", {{"error", e.what()}});
            }
          } catch (const std::exception& e) {
            logger().warn("Node heartbeat", {{"error", e.what()}});
          }
        }
      },
      /*needsLeaderElection=*/false);
}

// ---- State ------------------------------------------------------------------------

std::shared_ptr<Simulator::KeyState> Simulator::stateFor(const std::string& key) {
  std::lock_guard l(mu_);
  auto& p = states_[key];
  if (!p) p = std::make_shared<KeyState>();
  return p;
}

FaultSet Simulator::faultsFor(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = faults_.find(key);
  return it == faults_.end() ? FaultSet{} : it->second;
}

void Simulator::adopt(KeyState& st, const std::string& key, const json& vmi) {
  stopServing(st, key);
  const FaultSet f = faultsFor(key);
  st.vmiUid = str(vmi, {"metadata", "uid"});
  st.phase = parsePhase(str(vmi, {"status", "phase"}));
  if (st.phase == Phase::None) st.phase = Phase::Pending;
  st.bootDelay =
      f.slowBootMs ? nanoseconds(milliseconds(*f.slowBootMs)) : nanoseconds(opts_.bootDelay);
  st.bootStart = clock_.now() - phaseStart(st.phase, st.bootDelay);
  st.node = str(vmi, {"status", "nodeName"});
  st.unschedulable = false;
  st.failureReason = str(vmi, {"status", "reason"});
  st.restartAt = clock_.now();
  st.writtenVmiStatus = nullptr;
  st.writtenVmiRv.clear();
  st.crashRequested = false;
  auto ep = std::make_shared<Endpoint>();
  ep->namespace_ = str(vmi, {"metadata", "namespace"});
  ep->name = str(vmi, {"metadata", "name"});
  ep->failHealth = f.failHealth;
  ep->hangHealth = f.hangHealth;
  {
    std::lock_guard l(mu_);  // the control API reads it
    st.endpoint = std::move(ep);
  }
  // A Running VMI from before a restart keeps its address when it is free.
  if (st.phase == Phase::Running) {
    const json& ifaces = statusOf(vmi).value("interfaces", json::array());
    const std::string ip =
        ifaces.is_array() && !ifaces.empty() ? str(ifaces[0], {"ipAddress"}) : "";
    if (!ip.empty() && ips_.reserve(key, ip)) st.ip = ip;
  }
}

void Simulator::stopServing(KeyState& st, const std::string& key) {
  for (auto id : st.listeners) servers_.close(id);
  st.listeners.clear();
  st.ports.clear();
  if (!st.ip.empty() || ips_.addressOf(key)) ips_.release(key);
  st.ip.clear();
  if (st.inLoad && st.endpoint) load_.removeVmi(st.endpoint->namespace_, st.endpoint->name);
  st.inLoad = false;
}

void Simulator::startServing(KeyState& st, const std::string& key, const json& vmi) {
  const json& spec = vmi.contains("spec") ? vmi["spec"] : json::object();
  const std::vector<int> ports = servedPorts(spec, opts_.httpPorts);
  auto ep = st.endpoint;
  const std::string node = st.node;
  const std::string healthPath = opts_.healthPath;
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (st.ip.empty()) {
      auto ip = ips_.allocate(key);
      if (!ip) throw std::runtime_error("no loopback address left for " + key);
      st.ip = *ip;
    }
    std::vector<std::uint64_t> ids;
    try {
      for (int port : ports) {
        auto handler = [this, ep, node, port, healthPath](const HttpRequest& r) -> HttpResponse {
          const std::string path = r.target.substr(0, r.target.find('?'));
          HttpResponse out = vmiAnswer(r, healthPath, ep->failHealth, ep->hangHealth,
                                       "kubec2-kubevirt-sim: VMI " + ep->namespace_ + "/" +
                                           ep->name + " on node " + node + ", port " +
                                           std::to_string(port) + ", path " + path + "\n");
          if (!out.noAnswer) load_.countRequest(ep->namespace_, ep->name);  // requests answered
          return out;
        };
        ids.push_back(servers_.listen(st.ip, port, std::move(handler)).id);
      }
      st.listeners = std::move(ids);
      st.ports = ports;
      return;
    } catch (const BindError& e) {
      for (auto id : ids) servers_.close(id);
      if (!e.addressInUse()) throw;
      // Something else on this host (another simulator?) holds the address.
      logger().warn("Address in use, taking another", {{"vmi", key}, {"ip", st.ip}});
      ips_.block(st.ip);
      st.ip.clear();
    }
  }
  throw std::runtime_error("no free loopback address found for " + key);
}

// ---- API writes -----------------------------------------------------------------------

bool Simulator::deleteVmi(const std::string& ns, const std::string& name, const std::string& uid) {
  try {
    kube::DeleteOptions o;
    if (!uid.empty()) o.preconditionUid = uid;
    o.propagationPolicy = "Background";
    return !client_.del(kVirtualMachineInstances, ns, name, o).has_value();
  } catch (const kube::ApiError& e) {
    if (e.isNotFound()) return true;
    if (e.isConflict()) return true;  // the uid precondition: that VMI is gone already
    throw;
  }
}

json Simulator::createVmi(const json& vm, KeyState& st, const std::string& key) {
  const std::string ns = str(vm, {"metadata", "namespace"});
  const std::string name = str(vm, {"metadata", "name"});
  const FaultSet f = faultsFor(key);
  const nanoseconds delay =
      f.slowBootMs ? nanoseconds(milliseconds(*f.slowBootMs)) : nanoseconds(opts_.bootDelay);
  // At delay 0 the VMI is placed at once, so the node label goes in with the
  // create instead of costing a write of its own.
  std::optional<std::string> node;
  const json spec = vm.contains("spec") && vm["spec"].contains("template")
                        ? vm["spec"]["template"].value("spec", json::object())
                        : json::object();
  if (delay == nanoseconds::zero() && !f.hangBoot)
    if (auto n = scheduler_.pick(spec)) node = n->name;
  json created;
  try {
    created = client_.create(kVirtualMachineInstances, ns, renderVmi(vm, node));
  } catch (const kube::ApiError& e) {
    if (!e.isAlreadyExists()) throw;
    // Our cache is behind: use the server's.
    created = client_.get(kVirtualMachineInstances, ns, name);
  }
  adopt(st, key, created);
  if (node && st.node.empty() && str(created, {"metadata", "labels", kNodeNameLabel}) == *node)
    st.node = *node;
  logger().debug("Created VMI", {{"vmi", key}});
  return created;
}

void Simulator::writeVmiStatus(KeyState& st, const json& vmi, const VmiStatusInputs& in) {
  const std::string rv = str(vmi, {"metadata", "resourceVersion"});
  // Our own last write is newer than what the cache shows: compare with it.
  const bool cacheBehind = !st.writtenVmiStatus.is_null() && olderThan(rv, st.writtenVmiRv);
  const json& current = cacheBehind ? st.writtenVmiStatus : statusOf(vmi);
  const json desired = withTransitionTimes(vmiStatus(in), current, now());
  st.phase = in.phase;
  if (satisfies(current, desired)) return;
  const json res =
      client_.patch(kVirtualMachineInstances, str(vmi, {"metadata", "namespace"}),
                    str(vmi, {"metadata", "name"}), kube::PatchType::Merge,
                    {{"metadata", {{"uid", st.vmiUid}}}, {"status", desired}}, statusOpts());
  st.writtenVmiStatus = statusOf(res);
  st.writtenVmiRv = str(res, {"metadata", "resourceVersion"});
}

void Simulator::writeVmStatus(KeyState& st, const kube::RawObject& vm, const VmView& view) {
  const json vmJ = vm.toJson();
  const bool cacheBehind =
      !st.writtenVmStatus.is_null() && olderThan(vm.metadata.resourceVersion, st.writtenVmRv);
  const json& current = cacheBehind ? st.writtenVmStatus : statusOf(vmJ);
  const json desired = withTransitionTimes(vmStatus(view), current, now());
  if (satisfies(current, desired)) return;
  const json res = client_.patch(kVirtualMachines, vm.metadata.namespace_, vm.metadata.name,
                                 kube::PatchType::Merge, {{"status", desired}}, statusOpts());
  st.writtenVmStatus = statusOf(res);
  st.writtenVmRv = str(res, {"metadata", "resourceVersion"});
}

void Simulator::ensureNodeLabel(const json& vmi, const std::string& node) {
  if (node.empty() || str(vmi, {"metadata", "labels", kNodeNameLabel}) == node) return;
  client_.patch(kVirtualMachineInstances, str(vmi, {"metadata", "namespace"}),
                str(vmi, {"metadata", "name"}), kube::PatchType::Merge,
                {{"metadata", {{"labels", {{kNodeNameLabel, node}}}}}});
}

void Simulator::publish(const std::string& key, const KeyState* st, const std::string& printable) {
  std::lock_guard l(mu_);
  if (!st) {
    summaries_.erase(key);
    return;
  }
  Summary s;
  s.phase = st->vmiUid.empty() ? "" : phaseName(st->phase);
  s.ip = st->ip;
  s.node = st->node;
  s.ports = st->ports;
  s.running = st->phase == Phase::Running;
  s.printableStatus = printable;
  summaries_[key] = std::move(s);
}

// ---- Reconcile -------------------------------------------------------------------------

kube::Result Simulator::reconcile(const kube::Request& req) {
  const std::string key = req.key();
  const auto vm = vms_.store().get(key);
  const auto cachedVmi = vmis_.store().get(key);
  std::optional<json> vmi;
  if (cachedVmi) vmi = cachedVmi->toJson();

  // A VMI is ours when a VirtualMachine controls it; leave standalone VMIs be.
  const kube::OwnerReference* ref = cachedVmi ? cachedVmi->metadata.controllerRef() : nullptr;
  const bool vmiOurs = ref && ref->kind == "VirtualMachine";

  if (!vm) {
    // The VM is gone: so goes its VMI (the garbage collector would too, but
    // not on a control plane without it, and not this quickly).
    if (vmiOurs && !cachedVmi->metadata.deletionTimestamp)
      deleteVmi(req.namespace_, req.name, cachedVmi->metadata.uid);
    std::shared_ptr<KeyState> st;
    {
      std::lock_guard l(mu_);
      auto it = states_.find(key);
      if (it != states_.end()) {
        st = it->second;
        states_.erase(it);
      }
    }
    if (st) stopServing(*st, key);
    publish(key, nullptr, "");
    return kube::Result::done();
  }
  if (cachedVmi && !vmiOurs) {
    logger().warn("A VMI of that name is not controlled by the VM; leaving both alone",
                  {{"vmi", key}});
    return kube::Result::done();
  }

  const auto st = stateFor(key);
  const json vmJ = vm->toJson();
  const RunStrategy strategy = runStrategyOf(vmJ);
  const bool vmDeleting = vm->metadata.deletionTimestamp.has_value();
  const Desire desire = vmDeleting ? Desire::Stop : desireOf(strategy);
  VmView view;
  view.strategy = strategy;
  view.vmDeleting = vmDeleting;

  // The VM's DataVolumes (when CDI is played): virt-controller creates the
  // templated ones, and creates no VMI until all have Succeeded.
  VmVolumesView volumes;
  if (storage_ && storage_->playsCdi() && !vmDeleting) {
    volumes = storage_->syncVmDataVolumes(vmJ);
    view.provisioning = volumes.provisioning;
    view.dataVolumeError = !volumes.error.empty();
  }

  auto finish = [&](kube::Result r) {
    view.failCount = st->failCount;
    view.lastFailedUid = st->lastFailedUid;
    writeVmStatus(*st, *vm, view);
    publish(key, st.get(), printableStatus(view));
    return r;
  };

  // A VMI of an earlier VM of the same name: replace it.
  if (vmi && ref->uid != vm->metadata.uid) {
    stopServing(*st, key);
    st->vmiUid.clear();
    if (!deleteVmi(req.namespace_, req.name, cachedVmi->metadata.uid)) {
      view.vmiExists = true;
      view.vmiDeleting = true;
      return finish(kube::Result::done());  // its deletion event brings us back
    }
    vmi.reset();
  }

  if (vmi && cachedVmi->metadata.deletionTimestamp) {
    stopServing(*st, key);
    view.vmiExists = true;
    view.vmiDeleting = true;
    return finish(kube::Result::done());
  }

  if (vmi && st->vmiUid != str(*vmi, {"metadata", "uid"})) adopt(*st, key, *vmi);

  if (desire == Desire::Stop) {
    if (vmi) {
      stopServing(*st, key);
      const bool gone = deleteVmi(req.namespace_, req.name, st->vmiUid);
      logger().info("Stopped VMI", {{"vmi", key}, {"strategy", runStrategyName(strategy)}});
      st->vmiUid.clear();
      st->phase = Phase::None;
      view.vmiExists = !gone;
      view.vmiDeleting = !gone;
    }
    return finish(kube::Result::done());
  }

  // A finished VMI: replaced after the boot delay when the strategy says so.
  if (vmi && isFinal(st->phase)) {
    stopServing(*st, key);
    const std::string phase = phaseName(st->phase);
    if (desire == Desire::Run && restartsAfter(strategy, phase)) {
      const auto t = clock_.now();
      if (t < st->restartAt) {
        view.vmiExists = true;
        view.vmiPhase = st->phase;
        return finish(kube::Result::after(atLeast1ms(st->restartAt - t)));
      }
      if (!deleteVmi(req.namespace_, req.name, st->vmiUid)) {
        view.vmiExists = true;
        view.vmiDeleting = true;
        return finish(kube::Result::done());
      }
      logger().info("Restarting VMI", {{"vmi", key}, {"after", phase}});
      st->vmiUid.clear();
      vmi.reset();
    } else {
      view.vmiExists = true;
      view.vmiPhase = st->phase;
      return finish(kube::Result::done());
    }
  }

  if (!vmi) {
    if (desire != Desire::Run) return finish(kube::Result::done());  // Manual: as it is
    if (!volumes.ready) {
      logger().debug("Waiting on DataVolumes to be ready", {{"vm", key}});
      return finish(kube::Result::done());  // their events bring us back
    }
    vmi = createVmi(vmJ, *st, key);
  }

  view.vmiExists = true;
  const std::string ns = req.namespace_;
  const json spec = vmi->value("spec", json::object());

  // Crash injected through the control API.
  if (st->crashRequested.exchange(false) && !isFinal(st->phase)) {
    stopServing(*st, key);
    VmiStatusInputs in;
    in.phase = Phase::Failed;
    in.node = st->node;
    in.failureReason = "Crashed";
    writeVmiStatus(*st, *vmi, in);
    st->failCount += 1;
    st->lastFailedUid = st->vmiUid;
    st->restartAt = clock_.now() + st->bootDelay;
    logger().info("VMI crashed (fault injection)", {{"vmi", key}});
    view.vmiPhase = Phase::Failed;
    if (restartsAfter(strategy, "Failed"))
      return finish(kube::Result::after(atLeast1ms(st->bootDelay)));
    return finish(kube::Result::done());
  }

  // The boot timeline.
  const FaultSet faults = faultsFor(key);
  if (st->endpoint) {
    st->endpoint->failHealth = faults.failHealth;
    st->endpoint->hangHealth = faults.hangHealth;
  }
  const BootStep step = bootPhase(clock_.now() - st->bootStart, st->bootDelay, faults.hangBoot);
  Phase phase = rank(step.phase) >= rank(st->phase) ? step.phase : st->phase;
  std::optional<nanoseconds> next = step.next;
  VmiStatusInputs in;
  if (rank(phase) >= rank(Phase::Scheduled) && st->node.empty()) {
    if (auto n = scheduler_.pick(spec)) {
      st->node = n->name;
      st->unschedulable = false;
    } else {
      phase = Phase::Scheduling;
      st->unschedulable = true;
      next.reset();  // the nodes are fixed: nothing will change by itself
      in.unschedulableMessage =
          "0/" + std::to_string(scheduler_.nodes().size()) +
          " nodes are available: no node matches the VMI's node selector or affinity";
    }
  }
  in.phase = phase;
  in.node = st->node;
  in.unschedulable = st->unschedulable;
  if (phase == Phase::Running) {
    if (st->listeners.empty()) {
      startServing(*st, key, *vmi);
      logger().debug("VMI running", {{"vmi", key}, {"ip", st->ip}, {"node", st->node}});
    }
    in.ip = st->ip;
  }
  if (rank(phase) >= rank(Phase::Scheduled)) ensureNodeLabel(*vmi, st->node);
  writeVmiStatus(*st, *vmi, in);
  if (phase == Phase::Running) {
    if (!st->inLoad) {
      VmiInfo info;
      info.namespace_ = ns;
      info.name = req.name;
      info.node = st->node;
      auto labels = vmi->value("metadata", json::object()).value("labels", json::object());
      for (const auto& [k, v] : labels.items())
        if (v.is_string()) info.labels[k] = v.get<std::string>();
      info.labels[kNodeNameLabel] = st->node;
      info.vcpus = vcpusOf(spec);
      info.memoryBytes = memoryBytesOf(spec);
      load_.addVmi(info);
      st->inLoad = true;
    }
    st->failCount = 0;
    st->lastFailedUid.clear();
  }
  view.vmiPhase = phase;
  view.unschedulable = st->unschedulable && phase == Phase::Scheduling;
  return finish(next ? kube::Result::after(atLeast1ms(*next)) : kube::Result::done());
}

// ---- Control API ------------------------------------------------------------------------

HttpResponse Simulator::setLoad(const LoadRequest& r) {
  if (!opts_.namespace_.empty() && r.target.namespace_ != opts_.namespace_)
    return HttpResponse::error(
        400, "field \"namespace\": this simulator serves only namespace " + opts_.namespace_);
  load_.setDemand(r.target, r.demand);
  json out = {{"namespace", r.target.namespace_},
              {"cpu", r.demand.cpuCores},
              {"networkInBytesPerSecond", r.demand.networkInBytesPerSecond},
              {"networkOutBytesPerSecond", r.demand.networkOutBytesPerSecond},
              {"requestsPerSecond", r.demand.requestsPerSecond},
              {"runningVmis", load_.members(r.target)}};
  if (r.target.group.empty())
    out["name"] = r.target.name;
  else
    out["group"] = r.target.group;
  logger().info("Load set", {{"target", r.target.describe()},
                             {"cpu", r.demand.cpuCores},
                             {"requestsPerSecond", r.demand.requestsPerSecond}});
  return HttpResponse::json(200, out);
}

HttpResponse Simulator::applyFault(const FaultRequest& r) {
  if (!opts_.namespace_.empty() && r.namespace_ != opts_.namespace_)
    return HttpResponse::error(
        400, "field \"namespace\": this simulator serves only namespace " + opts_.namespace_);
  const std::string key = r.namespace_ + "/" + r.name;
  FaultSet now;
  {
    std::lock_guard l(mu_);
    auto st = states_.find(key);
    if (r.clear) {
      faults_.erase(key);
      if (st != states_.end() && st->second->endpoint) {
        st->second->endpoint->failHealth = false;
        st->second->endpoint->hangHealth = false;
      }
    } else {
      switch (*r.fault) {
        case FaultKind::Crash: {
          auto vmi = vmis_.store().get(key);
          if (!vmi) return HttpResponse::error(404, "no VMI " + key + " to crash");
          const std::string phase = str(vmi->toJson(), {"status", "phase"});
          if (phase == "Failed" || phase == "Succeeded" || st == states_.end())
            return HttpResponse::error(409, "VMI " + key + " is not running (phase " +
                                                (phase.empty() ? "none" : phase) + ")");
          st->second->crashRequested = true;
          break;
        }
        case FaultKind::HangBoot:
          faults_[key].hangBoot = true;
          break;
        case FaultKind::FailHealth:
          faults_[key].failHealth = true;
          if (st != states_.end() && st->second->endpoint) st->second->endpoint->failHealth = true;
          break;
        case FaultKind::HangHealth:
          faults_[key].hangHealth = true;
          if (st != states_.end() && st->second->endpoint) st->second->endpoint->hangHealth = true;
          break;
        case FaultKind::SlowBoot:
          faults_[key].slowBootMs = r.bootDelayMs;
          break;
      }
    }
    if (auto f = faults_.find(key); f != faults_.end()) now = f->second;
  }
  if (controller_) controller_->enqueue({r.namespace_, r.name});
  logger().info("Fault", {{"vmi", key}, {"fault", r.clear ? "clear" : faultName(*r.fault)}});
  return HttpResponse::json(200, {{"namespace", r.namespace_},
                                  {"name", r.name},
                                  {"applied", r.clear ? "clear" : faultName(*r.fault)},
                                  {"faults", now.toJson()}});
}

json Simulator::listVms() {
  json out = json::array();
  auto vms = vms_.store().list();
  std::sort(vms.begin(), vms.end(),
            [](const auto& a, const auto& b) { return a->metadata.key() < b->metadata.key(); });
  std::lock_guard l(mu_);
  for (const auto& vm : vms) {
    const std::string key = vm->metadata.key();
    Summary s;
    if (auto it = summaries_.find(key); it != summaries_.end()) s = it->second;
    FaultSet f;
    if (auto it = faults_.find(key); it != faults_.end()) f = it->second;
    out.push_back({{"namespace", vm->metadata.namespace_},
                   {"name", vm->metadata.name},
                   {"printableStatus", s.printableStatus},
                   {"phase", s.phase},
                   {"ip", s.ip},
                   {"node", s.node},
                   {"ports", s.ports},
                   {"healthy", s.running && !f.failHealth && !f.hangHealth},
                   {"faults", f.toJson()}});
  }
  return out;
}

json Simulator::loads() {
  json out = json::array();
  for (const auto& [t, d] : load_.demands()) {
    json e = {{"namespace", t.namespace_},
              {"cpu", d.cpuCores},
              {"networkInBytesPerSecond", d.networkInBytesPerSecond},
              {"networkOutBytesPerSecond", d.networkOutBytesPerSecond},
              {"requestsPerSecond", d.requestsPerSecond},
              {"runningVmis", load_.members(t)}};
    if (t.group.empty())
      e["name"] = t.name;
    else
      e["group"] = t.group;
    out.push_back(std::move(e));
  }
  return out;
}

std::string Simulator::metrics() {
  return load_.renderMetrics();
}

}  // namespace kubec2::sim
