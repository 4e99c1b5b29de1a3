#include "reconcilers/instance/plan.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "reconcilers/instance/virtual_machine.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::chrono::seconds kPendingGrace{2};
constexpr const char* kKeptVolumesAnnotation = "compute.kubec2.io/volumes-kept-on-termination";
constexpr const char* kAppliedAnnotation = "compute.kubec2.io/applied";

bool hasFinalizer(const v1::Instance& inst) {
  const auto& f = inst.metadata.finalizers;
  return std::find(f.begin(), f.end(), kInstanceFinalizer) != f.end();
}

bool isDeleting(const json* obj) {
  return obj != nullptr && obj->contains("metadata") &&
         obj->at("metadata").contains("deletionTimestamp") &&
         !obj->at("metadata")["deletionTimestamp"].is_null();
}

const json* member(const json* obj, std::initializer_list<const char*> path) {
  for (const char* key : path) {
    if (obj == nullptr || !obj->is_object()) return nullptr;
    const auto it = obj->find(key);
    if (it == obj->end()) return nullptr;
    obj = &*it;
  }
  return obj;
}

// The VM's controller, when it is not this Instance: a VM of that name the
// operator must not take over.
bool controlledByOther(const json& vm, const std::string& instanceUid) {
  const json* refs = member(&vm, {"metadata", "ownerReferences"});
  if (refs == nullptr || !refs->is_array()) return true;
  for (const auto& r : *refs)
    if (r.value("controller", false)) return r.value("uid", "") != instanceUid;
  return true;
}

// The cloud-init user data the VM runs with, as written at launch.
const json* launchedCloudInit(const json* vm) {
  const json* volumes = member(vm, {"spec", "template", "spec", "volumes"});
  if (volumes == nullptr || !volumes->is_array()) return nullptr;
  for (const auto& v : *volumes)
    if (v.value("name", "") == "cloudinit" && v.contains("cloudInitNoCloud")) return &v;
  return nullptr;
}

void keepLaunchedCloudInit(json& desired, const json& launched) {
  json* volumes = &desired["spec"]["template"]["spec"]["volumes"];
  if (!volumes->is_array()) return;
  bool replaced = false;
  for (auto& v : *volumes)
    if (v.value("name", "") == "cloudinit") {
      v = launched;
      replaced = true;
    }
  if (replaced) return;
  volumes->push_back(launched);
  // Its disk too (disks is an atomic list: a volume without one is refused).
  json& disks = desired["spec"]["template"]["spec"]["domain"]["devices"]["disks"];
  if (!disks.is_array()) disks = json::array();
  for (const auto& d : disks)
    if (d.value("name", "") == "cloudinit") return;
  disks.push_back({{"name", "cloudinit"}, {"disk", {{"bus", "virtio"}}}});
}

std::string capitalizedState(const std::string& state) {
  // pending -> Pending, shutting-down -> ShuttingDown: an Event reason.
  std::string out;
  bool upper = true;
  for (char c : state) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// The Ready condition, keeping lastTransitionTime while its status holds.
v1::Condition readyCondition(const v1::Instance& inst, const std::string& status,
                             const std::string& reason, const std::string& message,
                             const std::string& now) {
  v1::Condition c;
  c.type = "Ready";
  c.status = status;
  c.reason = reason;
  c.message = message;
  c.observedGeneration = inst.metadata.generation;
  c.lastTransitionTime = now;
  if (inst.status && inst.status->conditions)
    for (const auto& old : *inst.status->conditions)
      // Kept while status and reason hold: a reason change (ShuttingDown to
      // Terminated, say) starts the clock the terminated retention counts on.
      if (old.type == "Ready" && old.status == status && old.reason == reason)
        c.lastTransitionTime = old.lastTransitionTime;
  return c;
}

std::string describe(const InstanceStateView& s, const std::string& name) {
  std::string m = "Instance " + name + " is " + s.state;
  if (s.state == "running") {
    if (s.nodeName) m += " on node " + *s.nodeName;
    if (s.zone) m += " in " + *s.zone;
    if (s.privateIP) m += ", private IP " + *s.privateIP;
  }
  if (!s.reasonMessage.empty()) m += ": " + s.reasonMessage;
  return m;
}

std::vector<std::string> keptVolumesOf(const json& vm) {
  std::vector<std::string> out;
  const json* a = member(&vm, {"metadata", "annotations", kKeptVolumesAnnotation});
  if (a == nullptr || !a->is_string()) return out;
  std::string item;
  for (char c : a->get<std::string>() + ",") {
    if (c != ',') {
      item += c;
    } else if (!item.empty()) {
      out.push_back(item);
      item.clear();
    }
  }
  return out;
}

// FNV-1a, 64 bits: stable across processes and builds, unlike std::hash.
std::string fingerprint(const json& j) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : j.dump()) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The applied configuration's fingerprint, as an annotation of the object:
// a field the Instance no longer asks for changes it, so the object is
// applied again and server-side apply removes the field (a subset check
// alone cannot see removals).
void stamp(json& obj) {
  if (json& a = obj["metadata"]["annotations"]; a.is_object()) a.erase(kAppliedAnnotation);
  const std::string f = fingerprint(obj);
  obj["metadata"]["annotations"][kAppliedAnnotation] = f;
}

std::string stampOf(const json* obj) {
  const json* a = member(obj, {"metadata", "annotations", kAppliedAnnotation});
  return a != nullptr && a->is_string() ? a->get<std::string>() : "";
}

// The dataVolumeTemplates (named as renderVirtualMachine names them) whose
// volume is kept when the instance terminates: the root volume only when
// deleteOnTermination is false (EC2's default for it is true), extra volumes
// unless deleteOnTermination is true (EC2's default for them is false).
std::vector<std::string> volumesToKeep(const v1::Instance& inst, const LaunchResolution& launch) {
  std::vector<std::string> out;
  if (!launch.ok() || !launch.spec.volumes) return out;
  const auto& v = *launch.spec.volumes;
  const bool persistentRoot = launch.spec.image && !launch.spec.image->containerDisk;
  if (persistentRoot && v.root && v.root->deleteOnTermination == false)
    out.push_back(inst.metadata.name + "-root");
  if (v.extra)
    for (const auto& e : *v.extra)
      if (!e.deleteOnTermination.value_or(false)) out.push_back(inst.metadata.name + "-" + e.name);
  return out;
}

}  // namespace

bool containedIn(const json& want, const json& have) {
  if (want.is_object()) {
    if (!have.is_object()) return false;
    for (const auto& [k, v] : want.items()) {
      const auto it = have.find(k);
      // The API server drops empty lists and maps (omitempty) and nulls.
      if (it == have.end()) {
        if ((v.is_array() || v.is_object()) && v.empty()) continue;
        if (v.is_null()) continue;
        return false;
      }
      if (!containedIn(v, *it)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i)
      if (!containedIn(want[i], have[i])) return false;
    return true;
  }
  return want == have;
}

std::vector<SecretNeed> secretsNeeded(const v1::Instance&, const LaunchResolution& launch,
                                      const json* vm) {
  std::vector<SecretNeed> out;
  if (!launch.ok() || (vm != nullptr && launchedCloudInit(vm) != nullptr)) return out;
  if (launch.spec.keyPair)
    out.push_back({launch.spec.keyPair->secretName, launch.spec.keyPair->key, true});
  if (launch.spec.userData && launch.spec.userData->secretRef)
    out.push_back({launch.spec.userData->secretRef->name,
                   launch.spec.userData->secretRef->key.value_or("userdata"), false});
  return out;
}

InstancePlan planInstance(const InstanceObservation& o) {
  const v1::Instance& inst = *o.instance;
  InstancePlan plan;
  const std::string now = kube::formatRfc3339(o.now);
  const std::string name = inst.metadata.name;
  const v1::InstanceStatus old = inst.status.value_or(v1::InstanceStatus{});
  v1::InstanceStatus status = old;
  status.observedGeneration = inst.metadata.generation;
  const bool deleting = inst.metadata.deletionTimestamp.has_value();

  // Sets state, Ready and the transition Event from an observation.
  auto observe = [&](const InstanceStateView& view, const std::string& readyStatus,
                     const std::string& readyReason, const std::string& readyMessage) {
    status.state = view.state;
    if (view.reasonCode.empty())
      status.stateReason.reset();
    else
      status.stateReason = v1::InstanceStateReason{view.reasonCode, view.reasonMessage};
    status.privateIP = view.privateIP;
    status.nodeName = view.nodeName;
    if (view.zone) status.zone = view.zone;
    status.conditions = std::vector<v1::Condition>{
        readyCondition(inst, readyStatus, readyReason, readyMessage, now)};
    if (old.state != view.state)
      plan.events.push_back({false, capitalizedState(view.state), describe(view, name)});
  };
  auto problem = [&](const std::string& reason, const std::string& message) {
    InstanceStateView view;
    const bool running = inst.spec.desiredState.value_or("running") != "stopped";
    view.state = o.vm != nullptr
                     ? observeState({false, running, o.vm, o.vmi, false, o.nodeZone}).state
                     : (running ? "pending" : "stopped");
    observe(view, "False", reason, message);
    const bool sameAsBefore = old.conditions && !old.conditions->empty() &&
                              old.conditions->front().reason == reason &&
                              old.conditions->front().message == message;
    if (!sameAsBefore) plan.events.push_back({true, reason, message});
  };
  auto finishStatus = [&] {
    if (!(status == old)) plan.status = status.toJson();
  };

  // ---------------------------------------------------------------- deletion
  if (deleting) {
    if (!hasFinalizer(inst)) return plan;
    InstanceStateView view;
    view.reasonCode = "Client.UserInitiatedShutdown";
    view.reasonMessage = "User initiated shutdown";
    if (o.vm != nullptr) {
      const bool ours = !controlledByOther(*o.vm, inst.metadata.uid);
      plan.deleteVm = ours && !isDeleting(o.vm);
      // Released while the VM is ours, also when it is already being deleted
      // (a foreground delete): the list was recorded on the VM at launch.
      if (ours) plan.keepVolumes = keptVolumesOf(*o.vm);
      view.state = "shutting-down";
      if (controlledByOther(*o.vm, inst.metadata.uid)) view.state = "terminated";
    } else if (o.volumesRemain) {
      view.state = "shutting-down";
      plan.requeueAfter = 5s;
    } else {
      view.state = "terminated";
    }
    observe(view, "False", view.state == "terminated" ? "Terminated" : "ShuttingDown",
            describe(view, name));
    if (view.state == "terminated") {
      // Visible for terminatedRetention after it terminated, as EC2 lists
      // terminated instances for a while; then the finalizer goes.
      const auto since =
          kube::parseRfc3339Utc(status.conditions->front().lastTransitionTime.value_or(now));
      // A time that does not parse counts as long past: never stuck.
      const auto until = since.value_or(o.now - o.terminatedRetention) + o.terminatedRetention;
      if (o.now >= until)
        plan.removeFinalizer = true;
      else
        plan.requeueAfter =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - o.now) + 1ms;
    }
    finishStatus();
    if (plan.removeFinalizer) plan.status.reset();  // the object goes; nothing to record
    return plan;
  }

  if (!hasFinalizer(inst)) plan.addFinalizer = true;

  // ---------------------------------------------------------------- launch
  if (!o.kubevirtInstalled) {
    problem("KubeVirtNotInstalled",
            "the API server does not serve kubevirt.io/v1 virtualmachines: install KubeVirt "
            "(the operator checks again every 30 s)");
    plan.requeueAfter = 30s;
    finishStatus();
    return plan;
  }
  if (o.vm != nullptr && controlledByOther(*o.vm, inst.metadata.uid)) {
    problem("VirtualMachineConflict", "a VirtualMachine named " + name +
                                          " exists and is not controlled by this Instance; "
                                          "delete or rename it");
    plan.requeueAfter = 60s;
    finishStatus();
    return plan;
  }

  // The version a VM was launched from is pinned in status; until status is
  // written, the VM's annotation says it, so $Latest cannot move meanwhile.
  LaunchResolution launch;
  const json* pinned = member(o.vm, {"metadata", "annotations", kLaunchTemplateVersionAnnotation});
  if (!old.launchTemplateVersion && pinned != nullptr && pinned->is_string()) {
    v1::Instance withPin = inst;
    if (!withPin.status) withPin.status = v1::InstanceStatus{};
    try {
      withPin.status->launchTemplateVersion = std::stoll(pinned->get<std::string>());
    } catch (const std::exception&) {
    }
    launch = resolveLaunch(withPin, o.launchTemplate);
  } else {
    launch = resolveLaunch(inst, o.launchTemplate);
  }
  if (!launch.ok()) {
    problem(launch.problemReason, launch.problemMessage);
    // The template's watch brings the Instance back when it changes.
    plan.requeueAfter = 5min;
    finishStatus();
    return plan;
  }

  // The instance type: kept as resolved at launch while the name is unchanged.
  const std::string typeName = launch.spec.instanceType.value_or("");
  InstanceTypeInfo type;
  if (old.instanceType && old.instanceType->name == typeName && old.instanceType->vCPU &&
      old.instanceType->memoryMiB) {
    type = {typeName, *old.instanceType->vCPU, *old.instanceType->memoryMiB, 0};
    if (const InstanceTypeInfo* t = o.catalog->find(typeName)) type.gpus = t->gpus;
  } else if (const InstanceTypeInfo* t = o.catalog->find(typeName)) {
    type = *t;
  } else {
    std::string message = "instance type \"" + typeName +
                          "\" is not in the catalog (built-in families t3, m5, m6i, c5, c6i, "
                          "r5, r6i, i3, g5, or the kubec2-instance-types ConfigMap)";
    if (!o.catalogProblems.empty())
      message += "; the ConfigMap has errors: " + o.catalogProblems.front();
    problem("InstanceTypeNotFound", message);
    plan.requeueAfter = 5min;
    finishStatus();
    return plan;
  }

  if (!o.secretProblem.empty()) {
    problem("SecretNotFound", o.secretProblem);
    plan.retryWithBackoff = true;
    finishStatus();
    return plan;
  }

  // ---------------------------------------------------------------- VM
  VmInputs in;
  in.instance = &inst;
  in.launch = &launch;
  in.type = type;
  in.sshPublicKeys = o.sshPublicKeys;
  in.userData = launch.spec.userData && launch.spec.userData->inline_
                    ? launch.spec.userData->inline_
                    : o.userData;
  json vm = renderVirtualMachine(in);
  if (const json* launched = launchedCloudInit(o.vm)) keepLaunchedCloudInit(vm, *launched);
  if (const auto keep = volumesToKeep(inst, launch); !keep.empty()) {
    std::string list;
    for (const auto& k : keep) list += (list.empty() ? "" : ",") + k;
    vm["metadata"]["annotations"][kKeptVolumesAnnotation] = list;
  }
  stamp(vm);
  if (o.vm == nullptr || !containedIn(vm, *o.vm)) {
    if (o.vm != nullptr && !isDeleting(o.vm)) {
      if (stampOf(o.vm) == stampOf(&vm))
        plan.events.push_back({false, "VirtualMachineRestored",
                               "VirtualMachine " + name +
                                   " differed from the Instance (edited or stopped outside "
                                   "kubec2); its fields were restored"});
      else
        plan.events.push_back({false, "VirtualMachineUpdated",
                               "VirtualMachine " + name +
                                   " updated to the Instance's spec (CPU, memory and "
                                   "labels of the template apply from its next start)"});
    }
    if (o.vm == nullptr || !isDeleting(o.vm)) plan.applyVm = vm;
  }
  // Launched when the VM was created (its creationTimestamp), as EC2's launchTime.
  if (const json* created = member(o.vm, {"metadata", "creationTimestamp"});
      !old.launchTime && created != nullptr && created->is_string())
    status.launchTime = created->get<std::string>();
  status.instanceType = v1::ResolvedInstanceType{type.name, type.vCPU, type.memoryMiB};
  status.launchTemplateVersion = launch.templateVersion;

  // ---------------------------------------------------------------- security groups
  if (auto np = renderNetworkPolicy(inst, launch.spec)) {
    stamp(*np);
    if (o.networkPolicy == nullptr || !containedIn(*np, *o.networkPolicy))
      plan.applyNetworkPolicy = *np;
  } else if (o.networkPolicy != nullptr) {
    plan.deleteNetworkPolicy = true;
  }

  // ---------------------------------------------------------------- state
  // A VM being created: its status is written when the VM's watch event
  // brings the Instance back, by when KubeVirt may already run it (one
  // status write fewer per launch; nothing is lost, status is level-based).
  if (o.vm == nullptr && plan.applyVm && !old.state) return plan;
  const bool wantsRunning = inst.spec.desiredState.value_or("running") != "stopped";
  InstanceStateView view =
      observeState({false, wantsRunning, o.vm != nullptr ? o.vm : &vm, o.vmi, false, o.nodeZone});
  // A launch's first status waits up to kPendingGrace after the VM's
  // creation: a VM that boots by then goes straight to running, one status
  // write and one Event fewer per launch (creationTimestamp has whole
  // seconds, hence 2 s). A slower boot shows pending from then on.
  if (!old.state && view.state == "pending" && o.vm != nullptr) {
    const json* created = member(o.vm, {"metadata", "creationTimestamp"});
    const auto at = created != nullptr && created->is_string()
                        ? kube::parseRfc3339Utc(created->get<std::string>())
                        : std::nullopt;
    if (at && o.now < *at + kPendingGrace) {
      plan.requeueAfter =
          std::chrono::duration_cast<std::chrono::milliseconds>(*at + kPendingGrace - o.now) + 1ms;
      return plan;
    }
  }
  observe(view, view.ready ? "True" : "False",
          view.readyReason.empty() ? capitalizedState(view.state) : view.readyReason,
          view.readyMessage.empty() ? describe(view, name) : view.readyMessage);
  finishStatus();
  return plan;
}

}  // namespace kubec2::reconcilers
