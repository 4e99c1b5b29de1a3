#include "reconcilers/instance/plan.h"

#include <algorithm>
#include <cctype>

#include "api/resources.h"
#include "api/well_known.h"
#include "reconcilers/common/conditions.h"
#include "reconcilers/common/finalizer.h"
#include "reconcilers/common/observed.h"
#include "reconcilers/instance/network_policy.h"
#include "reconcilers/instance/virtual_machine.h"
#include "reconcilers/instance/volumes.h"
#include "runtime/finalizers.h"
#include "runtime/object.h"
#include "runtime/quantity.h"
#include "runtime/strings.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// How long a launch's first status waits for the VM to boot (see below).
constexpr std::chrono::seconds kPendingGrace{2};

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
  const json* a = kube::jsonAt(&vm, {"metadata", "annotations", api::kKeptVolumesAnnotation});
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

bool vmIsOurs(const InstanceObservation& o) {
  return o.vm != nullptr && kube::isControlledBy(*o.vm, o.instance->metadata.uid);
}

bool renderedForStart(const InstanceObservation& o) {
  return o.vm == nullptr || o.vmi == nullptr;
}

// The volumes a start restores from Snapshots and has not made yet.
std::vector<PersistentVolume> volumesToRestore(const InstanceObservation& o,
                                               const v1::LaunchSpec& launch) {
  const v1::Instance& inst = *o.instance;
  std::vector<PersistentVolume> out;
  for (PersistentVolume& v :
       volumesOf(inst.metadata.name, inst.metadata.namespace_, launch).volumes) {
    if (v.snapshot.empty()) continue;
    bool made = false;
    if (inst.status && inst.status->volumes)
      for (const auto& s : *inst.status->volumes) made = made || s.claimName == v.dataVolume;
    if (!made) out.push_back(std::move(v));
  }
  return out;
}

// The VolumeSnapshot each volume restored from a Snapshot starts from, by
// DataVolume: the copy its Snapshot recorded (read for a start), else the
// one the VM was made with (so a VM rendered between starts stays as it
// is); absent: api::volumeSnapshotName().
std::map<std::string, std::string> restoredFrom(const InstanceObservation& o,
                                                const v1::LaunchSpec& launch) {
  const v1::Instance& inst = *o.instance;
  std::map<std::string, std::string> out;
  for (const PersistentVolume& v :
       volumesOf(inst.metadata.name, inst.metadata.namespace_, launch).volumes) {
    if (v.snapshot.empty()) continue;
    if (const auto found = o.snapshots.find(v.snapshot); found != o.snapshots.end() &&
                                                         found->second && found->second->status &&
                                                         found->second->status->volumes) {
      for (const auto& c : *found->second->status->volumes)
        if (c.name == v.snapshotVolume) out[v.dataVolume] = c.volumeSnapshotName;
      if (out.count(v.dataVolume)) continue;
    }
    const json* templates =
        o.vm == nullptr ? nullptr : kube::jsonAt(o.vm, {"spec", "dataVolumeTemplates"});
    if (templates == nullptr || !templates->is_array()) continue;
    for (const json& t : *templates) {
      const json* name = kube::jsonAt(&t, {"metadata", "name"});
      const json* from = kube::jsonAt(&t, {"spec", "source", "snapshot", "name"});
      if (name != nullptr && from != nullptr && from->is_string() && *name == v.dataVolume)
        out[v.dataVolume] = from->get<std::string>();
    }
  }
  return out;
}

struct RestoreProblem {
  std::string reason, message;
  std::chrono::seconds recheck;
  bool warning = true;  // false: a wait that needs nobody (a Normal Event)
};

// Why a volume cannot be restored yet: its Snapshot does not exist, has no
// copy of the volume, failed, or is not completed (Snapshots are not
// watched here: looked at again after `recheck`).
std::optional<RestoreProblem> restoreProblem(const InstanceObservation& o,
                                             const v1::LaunchSpec& launch) {
  for (const PersistentVolume& v : volumesToRestore(o, launch)) {
    const std::string what = "volume " + v.disk + " restores from Snapshot " + v.snapshot;
    const auto found = o.snapshots.find(v.snapshot);
    const v1::Snapshot* snap = found == o.snapshots.end() ? nullptr : found->second.get();
    if (snap != nullptr && snap->metadata.deletionTimestamp)
      return RestoreProblem{"SnapshotNotFound", what + ", which is being deleted",
                            std::chrono::seconds(15)};
    if (snap == nullptr)
      return RestoreProblem{"SnapshotNotFound", what + ", which does not exist in this namespace",
                            std::chrono::seconds(15)};
    const auto& st = snap->status;
    const std::string state = st ? st->state.value_or("pending") : "pending";
    if (state == "error")
      return RestoreProblem{"SnapshotFailed",
                            what + ", which failed (see its Ready condition): use another",
                            std::chrono::seconds(300)};
    const v1::SnapshotVolume* copy = nullptr;
    std::vector<std::string> copied;
    if (st && st->volumes)
      for (const auto& c : *st->volumes) {
        copied.push_back(c.name);
        if (c.name == v.snapshotVolume) copy = &c;
      }
    if (state == "completed" && copy == nullptr)
      return RestoreProblem{"SnapshotNotFound",
                            "volume " + v.disk + " restores volume " + v.snapshotVolume +
                                " of Snapshot " + v.snapshot + ", which copied " +
                                (copied.empty() ? "none" : kube::join(copied)),
                            std::chrono::seconds(300)};
    if (state != "completed")
      return RestoreProblem{"SnapshotNotReady",
                            what + ", which is still " + state + ": the launch waits for it",
                            std::chrono::seconds(5), false};
    // A DataVolume of the name left from an earlier volume (kept when it
    // was removed from the spec): KubeVirt would attach it, not restore.
    if (const auto dv = o.dataVolumes.find(v.dataVolume); dv != o.dataVolumes.end()) {
      const json* from = kube::jsonAt(&dv->second, {"spec", "source", "snapshot", "name"});
      if (from == nullptr || !from->is_string() || *from != copy->volumeSnapshotName)
        return RestoreProblem{
            "VolumeExists",
            "volume " + v.disk + " restores from Snapshot " + v.snapshot + ", but DataVolume " +
                v.dataVolume +
                " exists, left from an earlier volume of that name (kept when it was removed): "
                "a start would attach it instead; delete it (kubectl delete dv " +
                v.dataVolume + ") or give the volume another name",
            std::chrono::seconds(15)};
    }
    // A volume smaller than its copy: CSI drivers refuse the restore (EC2
    // refuses CreateVolume below the snapshot's size), so say it here.
    if (v.sizeGiB && copy->restoreSize)
      if (const auto bytes = kube::parseQuantity(*copy->restoreSize);
          bytes && static_cast<double>(*v.sizeGiB) * 1073741824.0 < *bytes)
        return RestoreProblem{"VolumeSmallerThanSnapshot",
                              "volume " + v.disk + " asks for " + std::to_string(*v.sizeGiB) +
                                  " GiB, less than its copy in Snapshot " + v.snapshot + " (" +
                                  *copy->restoreSize + "): set its sizeGiB at least that large",
                              std::chrono::seconds(300)};
  }
  return std::nullopt;
}

// Status, conditions and Events of one reconcile, built up as it goes.
class StatusBuilder {
 public:
  StatusBuilder(const InstanceObservation& o, Plan& plan)
      : o_(o),
        inst_(*o.instance),
        plan_(plan),
        old_(inst_.status.value_or(v1::InstanceStatus{})),
        status_(old_),
        now_(kube::formatRfc3339(o.now)) {
    status_.observedGeneration = inst_.metadata.generation;
  }

  v1::InstanceStatus& status() { return status_; }
  const v1::InstanceStatus& old() const { return old_; }
  const std::string& now() const { return now_; }
  const std::string& name() const { return inst_.metadata.name; }

  // State, Ready and the transition Event from a state view.
  void observe(const InstanceStateView& view, const std::string& readyStatus,
               const std::string& readyReason, const std::string& readyMessage) {
    status_.state = view.state;
    if (view.reasonCode.empty())
      status_.stateReason.reset();
    else
      status_.stateReason = v1::InstanceStateReason{view.reasonCode, view.reasonMessage};
    status_.privateIP = view.privateIP;
    status_.nodeName = view.nodeName;
    if (view.zone) status_.zone = view.zone;
    setCondition(status_.conditions, condition(old_.conditions, "Ready", readyStatus, readyReason,
                                               readyMessage, inst_.metadata.generation, now_));
    // A ScalingGroup's instances leave their state changes to the group's
    // activities and Events (as EC2 Auto Scaling records launches and
    // terminations on the group): a group of a thousand writes a thousand
    // Events fewer per launch. Warnings stay on the instance.
    const bool inGroup = inst_.metadata.labels.count(api::kScalingGroupLabel) > 0 &&
                         inst_.metadata.controllerRef() != nullptr &&
                         inst_.metadata.controllerRef()->kind == "ScalingGroup";
    if (old_.state != view.state && !inGroup)
      events_.push_back({false, capitalizedState(view.state), describe(view, name()), {}});
  }
  void observe(const InstanceStateView& view) {
    observe(view, view.ready ? "True" : "False",
            view.readyReason.empty() ? capitalizedState(view.state) : view.readyReason,
            view.readyMessage.empty() ? describe(view, name()) : view.readyMessage);
  }

  // Something keeps the instance from launching: Ready False with `reason`
  // and a Warning, once per distinct problem.
  // Ready False with `reason`, and an Event once per reason and message:
  // a Warning, or Normal for a wait that needs nobody (`warning` false).
  void problem(const std::string& reason, const std::string& message, bool warning = true) {
    const bool running = inst_.spec.desiredState.value_or("running") != "stopped";
    InstanceStateView view;
    view.state = o_.vm != nullptr
                     ? observeState({false, running, o_.vm, o_.vmi, false, o_.nodeZone}).state
                     : (running ? "pending" : "stopped");
    observe(view, "False", reason, message);
    const v1::Condition* before = findCondition(old_.conditions, "Ready");
    if (before == nullptr || before->reason != reason || before->message != message)
      events_.push_back({warning, reason, message, {}});
  }

  // Something wrong with what the next start would use, while the instance
  // runs as it started: UpToDate False with `reason`, and a Warning once per
  // distinct problem. Ready is left to the state.
  void nextStartProblem(const std::string& reason, const std::string& message) {
    const std::string words =
        message + " (the instance runs as it started; this stops its next start)";
    setOnlyWhenFalse("UpToDate", true, reason, words);
    const v1::Condition* before = findCondition(old_.conditions, "UpToDate");
    if (before == nullptr || before->reason != reason || before->message != words)
      events_.push_back({true, reason, words, {}});
  }

  // A condition that is there only while False (its absence means all is well).
  void setOnlyWhenFalse(const std::string& type, bool isFalse, const std::string& reason,
                        const std::string& message) {
    if (!isFalse) {
      removeCondition(status_.conditions, type);
      return;
    }
    setCondition(status_.conditions, condition(old_.conditions, type, "False", reason, message,
                                               inst_.metadata.generation, now_));
  }

  // PatchStatus when something changed, then the Events.
  void finish() {
    if (!(status_ == old_)) plan_.add(PatchStatus{status_.toJson()});
    for (auto& e : events_) plan_.add(std::move(e));
    events_.clear();
  }
  // Events only (the status is not written in this reconcile).
  void finishEventsOnly() {
    for (auto& e : events_) plan_.add(std::move(e));
    events_.clear();
  }

 private:
  const InstanceObservation& o_;
  const v1::Instance& inst_;
  Plan& plan_;
  const v1::InstanceStatus old_;
  v1::InstanceStatus status_;
  const std::string now_;
  std::vector<RecordEvent> events_;
};

// ------------------------------------------------------------------ terminate

CleanupResult terminate(const InstanceObservation& o) {
  const v1::Instance& inst = *o.instance;
  CleanupResult result;
  Plan& plan = result.plan;
  StatusBuilder sb(o, plan);
  const bool ours = vmIsOurs(o);
  const bool draining = ours && o.deregisteringUntil && o.now < *o.deregisteringUntil;
  if (ours) {
    // Released first (while the VM is ours, also when it is already being
    // deleted, as in a foreground delete): the list was recorded at launch.
    std::vector<std::string> kept = keptVolumesOf(*o.vm);
    if (kept.empty() && inst.status && inst.status->volumes)
      for (const auto& v : *inst.status->volumes)
        if (!v.deleteOnTermination) kept.push_back(v.claimName);
    for (const auto& dv : kept)
      plan.add(ReleaseObject{api::kDataVolumes, inst.metadata.namespace_, dv, uidOf(o.vm)});
    if (!kube::isDeleting(o.vm) && !draining)
      plan.add(DeleteObject{api::kVirtualMachines, inst.metadata.namespace_, inst.metadata.name,
                            uidOf(o.vm)});
  }
  // Polled, not watched: the drain's end is known, and a load balancer
  // that reacts late only shortens the poll.
  if (draining)
    plan.requeueWithin(std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(*o.deregisteringUntil - o.now) + 1ms,
        5s));
  // A VM that is not ours is not waited for; its VMI neither.
  const InstanceStateView view =
      observeState({true, true, ours ? o.vm : nullptr, ours ? o.vmi : nullptr,
                    !o.claimsRemaining.empty(), o.nodeZone});
  sb.observe(view, "False", view.readyReason,
             draining ? describe(view, sb.name()) + "; draining from " + o.deregisteringFrom +
                            " until " + kube::formatRfc3339(*o.deregisteringUntil) +
                            " before its VM stops (the deregistration delay)"
                      : describe(view, sb.name()));
  if (!ours && !o.claimsRemaining.empty()) plan.requeueWithin(5s);  // claims are not watched
  if (view.state == "terminated") {
    // Visible for terminatedRetention after it terminated, as EC2 lists
    // terminated instances for a while; then the finalizer goes.
    const v1::Condition* ready = findCondition(sb.status().conditions, "Ready");
    const auto since = kube::parseRfc3339Utc(
        ready != nullptr ? ready->lastTransitionTime.value_or(sb.now()) : sb.now());
    // A time that does not parse counts as long past: never stuck.
    const auto until = since.value_or(o.now - o.terminatedRetention) + o.terminatedRetention;
    if (o.now >= until) {
      result.done = true;
      sb.finishEventsOnly();  // the object goes: no status to record
      return result;
    }
    plan.requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(until - o.now) + 1ms);
  }
  sb.finish();
  return result;
}

// ------------------------------------------------------------------ launch and run

// The launch inputs the instance runs with: what its VMI was started from
// (the template's annotation, which KubeVirt copies to the VMI), else what
// the VM records (a schema that prunes the template's metadata), else none.
std::optional<LaunchInputs> inputsInForce(const InstanceObservation& o) {
  if (auto fromVmi = LaunchInputs::onVm(o.vmi)) return fromVmi;
  return LaunchInputs::onVm(o.vm);
}

Plan run(const InstanceObservation& o) {
  const v1::Instance& inst = *o.instance;
  const std::string& ns = inst.metadata.namespace_;
  const std::string& name = inst.metadata.name;
  Plan plan;
  StatusBuilder sb(o, plan);
  const v1::InstanceStatus& old = sb.old();

  if (!o.kubevirtInstalled) {
    sb.problem("KubeVirtNotInstalled",
               "the API server does not serve kubevirt.io/v1 virtualmachines: install KubeVirt "
               "(the operator checks again every 30 s)");
    plan.requeueWithin(30s);
    sb.finish();
    return plan;
  }
  if (o.vm != nullptr && !vmIsOurs(o)) {
    sb.problem("VirtualMachineConflict", "a VirtualMachine named " + name +
                                             " exists and is not controlled by this Instance; "
                                             "delete or rename it");
    plan.requeueWithin(60s);
    sb.finish();
    return plan;
  }
  // While a VMI runs, the VM keeps what it started with: a problem with
  // what the next start would use waits for that start (UpToDate False and
  // a Warning) instead of taking a running instance's Ready away.
  const bool forStart = renderedForStart(o);
  const LaunchResolution launch = launchOf(o);
  if (!launch.ok()) {
    if (forStart) {
      sb.problem(launch.problemReason, launch.problemMessage);
    } else {
      // Nothing to render the VM from: it stays as it runs.
      sb.nextStartProblem(launch.problemReason, launch.problemMessage);
      sb.observe(observeState({false, inst.spec.desiredState.value_or("running") != "stopped", o.vm,
                               o.vmi, false, o.nodeZone}));
    }
    // The template's watch brings the Instance back when it changes.
    plan.requeueWithin(5min);
    sb.finish();
    return plan;
  }

  // The instance type: kept as resolved at launch while the name is
  // unchanged, so editing the catalog does not resize instances.
  const std::string typeName = launch.spec.instanceType.value_or("");
  InstanceTypeInfo type{typeName, 0, 0, 0};
  std::string typeProblem;
  if (old.instanceType && old.instanceType->name == typeName && old.instanceType->vCPU &&
      old.instanceType->memoryMiB) {
    type = {typeName, *old.instanceType->vCPU, *old.instanceType->memoryMiB, 0};
    if (const InstanceTypeInfo* t = o.catalog->find(typeName)) type.gpus = t->gpus;
  } else if (const InstanceTypeInfo* t = o.catalog->find(typeName)) {
    type = *t;
  } else {
    typeProblem = "instance type \"" + typeName +
                  "\" is not in the catalog (built-in families t3, m5, m6i, c5, c6i, r5, r6i, i3, "
                  "g5, or the kubec2-instance-types ConfigMap)";
    if (!o.catalogProblems.empty())
      typeProblem += "; the ConfigMap has errors: " + o.catalogProblems.front();
  }
  if (!typeProblem.empty() && forStart) {
    sb.problem("InstanceTypeNotFound", typeProblem);
    plan.requeueWithin(5min);
    sb.finish();
    return plan;
  }

  // ------------------------------------------------ launch-time inputs
  // Rendered afresh for a start (no VM, or no VMI: launching, stopped or
  // starting); while a VMI runs, the VM keeps the inputs it started with.
  const LaunchInputs asked = LaunchInputs::of(launch.spec, type);
  LaunchInputs inForce = asked;
  std::optional<json> cloudInit;
  std::optional<json> cloudInitSecret;
  if (forStart) {
    if (const auto p = restoreProblem(o, launch.spec)) {
      sb.problem(p->reason, p->message, p->warning);
      plan.requeueWithin(p->recheck);
      sb.finish();
      return plan;
    }
    const CloudInitInputs ci = cloudInitInputs(launch.spec, o.secrets, ns);
    if (!ci.problem.empty()) {
      sb.problem(ci.problemReason, ci.problem);
      plan.retryWithBackoff = true;  // Secrets are not watched
      sb.finish();
      return plan;
    }
    if (const auto document = renderCloudInit(ci.userData, ci.sshPublicKeys)) {
      const bool inSecret = ci.fromSecret || document->size() > kMaxInlineCloudInitBytes;
      cloudInit = cloudInitVolume(inst, *document, inSecret);
      if (inSecret) {
        cloudInitSecret = renderCloudInitSecret(inst, *document);
        stamp(*cloudInitSecret);
      }
    }
    // A Secret of that name that is not this Instance's is never taken over.
    if (cloudInitSecret && o.cloudInitSecret != nullptr &&
        !kube::isControlledBy(*o.cloudInitSecret, inst.metadata.uid)) {
      sb.problem("CloudInitSecretConflict",
                 "a Secret named " + cloudInitSecretName(name) +
                     " exists and is not controlled by this Instance; the operator keeps the "
                     "instance's cloud-init there: delete or rename it");
      plan.requeueWithin(60s);
      sb.finish();
      return plan;
    }
  } else {
    if (const auto recorded = inputsInForce(o)) inForce = *recorded;
    if (const json* launched = launchedCloudInit(o.vm)) cloudInit = *launched;
  }
  const std::vector<std::string> waiting = asked.differences(inForce);

  // ------------------------------------------------ VM
  v1::LaunchSpec rendered = launch.spec;
  rendered.volumes = inForce.volumes;
  json vm = renderVirtualMachine({&inst, &launch, inForce, cloudInit, restoredFrom(o, rendered)});
  stamp(vm);
  const ApplyDecision vmNeed = decideApply(vm, o.vm, o.vmApplied);
  const bool vmGoing = kube::isDeleting(o.vm);
  if (cloudInitSecret) {
    // Watched by nobody: read for this start (o.cloudInitSecret), and
    // written again when missing or different.
    if (decideApply(*cloudInitSecret, o.cloudInitSecret, o.cloudInitApplied).apply())
      plan.add(ApplyObject{api::kSecrets, *cloudInitSecret, resourceVersionOf(o.cloudInitSecret)});
  } else if (forStart && o.cloudInitSecret != nullptr &&
             kube::isControlledBy(*o.cloudInitSecret, inst.metadata.uid)) {
    // A start without Secret inputs: this Instance's old cloud-init Secret goes.
    plan.add(DeleteObject{api::kSecrets, ns, cloudInitSecretName(name), uidOf(o.cloudInitSecret)});
  }
  if (vmNeed.apply() && !vmGoing) {
    switch (vmNeed.need) {
      case ApplyNeed::Create:
        if (old.launchTime)  // a VM existed; a launch held up has none yet
          plan.add(RecordEvent{
              false,
              "VirtualMachineRestored",
              "VirtualMachine " + name + " was deleted outside kubec2; it was created again",
              {}});
        break;
      case ApplyNeed::Change:
        plan.add(RecordEvent{false,
                             "VirtualMachineUpdated",
                             "VirtualMachine " + name +
                                 " updated to the Instance's spec (instance type, user data and "
                                 "volumes apply from the instance's next start)",
                             {}});
        break;
      case ApplyNeed::Restore: {
        std::vector<std::string> fields;
        for (const auto& p : vmNeed.changed) fields.push_back(fieldPathOf(p));
        plan.add(RecordEvent{false, "VirtualMachineRestored",
                             "VirtualMachine " + name + " was changed outside kubec2 (" +
                                 kube::join(fields) + "); the Instance's values were restored",
                             ChangeAttribution{api::kVirtualMachines, ns, name, vmNeed.changed}});
        break;
      }
      default:
        break;
    }
    plan.add(ApplyObject{api::kVirtualMachines, vm, resourceVersionOf(o.vm)});
  }

  // Launched when the VM was created (its creationTimestamp), as EC2's launchTime.
  if (const json* created = kube::jsonAt(o.vm, {"metadata", "creationTimestamp"});
      !old.launchTime && created != nullptr && created->is_string())
    sb.status().launchTime = created->get<std::string>();
  sb.status().instanceType =
      v1::ResolvedInstanceType{inForce.type.name, inForce.type.vCPU, inForce.type.memoryMiB};
  sb.status().launchTemplateVersion = launch.templateVersion;
  // The volumes as this start made them: what termination waits for or keeps.
  v1::LaunchSpec started = launch.spec;
  started.volumes = inForce.volumes;
  std::vector<v1::InstanceVolumeStatus> volumes;
  for (const PersistentVolume& v : volumesOf(name, ns, started).volumes)
    volumes.push_back({v.disk, v.dataVolume, v.deleteOnTermination});
  sb.status().volumes = volumes.empty()
                            ? std::nullopt
                            : std::optional<std::vector<v1::InstanceVolumeStatus>>(volumes);

  // ------------------------------------------------ security groups
  if (auto np = renderNetworkPolicy(inst, launch.spec)) {
    stamp(*np);
    if (decideApply(*np, o.networkPolicy, o.networkPolicyApplied).apply())
      plan.add(ApplyObject{api::kNetworkPolicies, *np, resourceVersionOf(o.networkPolicy)});
  } else if (o.networkPolicy != nullptr) {
    plan.add(
        DeleteObject{api::kNetworkPolicies, ns, networkPolicyName(name), uidOf(o.networkPolicy)});
  }

  // ------------------------------------------------ conditions beside Ready
  if (!typeProblem.empty())
    sb.nextStartProblem("InstanceTypeNotFound", typeProblem);
  else
    sb.setOnlyWhenFalse("UpToDate", !waiting.empty(), "WaitingForStart",
                        kube::join(waiting) + (waiting.size() == 1 ? " takes" : " take") +
                            " effect at the instance's next start: stop and start it to apply " +
                            (waiting.size() == 1 ? "it" : "them") + " now");
  std::vector<std::string> dropped;
  if (o.vmApplied != nullptr && o.vmApplied->stamp == stampOf(&vm))
    for (const auto& p : o.vmApplied->notKept) dropped.push_back(fieldPathOf(p));
  sb.setOnlyWhenFalse("VirtualMachineSynced", !dropped.empty(), "FieldsNotKept",
                      "the API server does not keep " + kube::join(dropped) +
                          " of VirtualMachine " + name +
                          " as applied (its schema prunes or rewrites them; KubeVirt's own CRDs "
                          "keep them); what depends on them, such as the pod's labels, is missing");

  // ------------------------------------------------ state
  // A VM being created: its status is written when the VM's watch event
  // brings the Instance back, by when KubeVirt may already run it (one
  // status write fewer per launch; nothing is lost, status is level-based).
  if (o.vm == nullptr && plan.applyOf("VirtualMachine", name) && !old.state) {
    sb.finishEventsOnly();
    return plan;
  }
  const bool wantsRunning = inst.spec.desiredState.value_or("running") != "stopped";
  const InstanceStateView view =
      observeState({false, wantsRunning, o.vm != nullptr ? o.vm : &vm, o.vmi, false, o.nodeZone});
  // A launch's first status waits up to kPendingGrace after the VM's
  // creation: a VM that boots by then goes straight to running, one status
  // write and one Event fewer per launch (creationTimestamp has whole
  // seconds, hence 2 s). A slower boot shows pending from then on.
  if (!old.state && view.state == "pending" && o.vm != nullptr) {
    const json* created = kube::jsonAt(o.vm, {"metadata", "creationTimestamp"});
    const auto at = created != nullptr && created->is_string()
                        ? kube::parseRfc3339Utc(created->get<std::string>())
                        : std::nullopt;
    if (at && o.now < *at + kPendingGrace) {
      plan.requeueWithin(
          std::chrono::duration_cast<std::chrono::milliseconds>(*at + kPendingGrace - o.now) + 1ms);
      sb.finishEventsOnly();
      return plan;
    }
  }
  sb.observe(view);
  sb.finish();
  return plan;
}

}  // namespace

LaunchResolution launchOf(const InstanceObservation& o) {
  const v1::Instance& inst = *o.instance;
  const json* pinned =
      kube::jsonAt(o.vm, {"metadata", "annotations", api::kLaunchTemplateVersionAnnotation});
  if ((!inst.status || !inst.status->launchTemplateVersion) && pinned != nullptr &&
      pinned->is_string()) {
    v1::Instance withPin = inst;
    if (!withPin.status) withPin.status = v1::InstanceStatus{};
    try {
      withPin.status->launchTemplateVersion = std::stoll(pinned->get<std::string>());
    } catch (const std::exception&) {
      // Not a number: somebody else's annotation; resolve as if absent.
      return resolveLaunch(inst, o.launchTemplate);
    }
    return resolveLaunch(withPin, o.launchTemplate);
  }
  return resolveLaunch(inst, o.launchTemplate);
}

std::vector<SecretNeed> secretsToRead(const InstanceObservation& o,
                                      const LaunchResolution& launch) {
  if (o.instance->metadata.deletionTimestamp || !o.kubevirtInstalled || !launch.ok() ||
      (o.vm != nullptr && !vmIsOurs(o)) || !renderedForStart(o))
    return {};
  return secretsOf(launch.spec);
}

namespace {

// The volumes the start about to be planned restores (none when no start
// is: what snapshotsToRead and restoredDataVolumesToRead read for).
std::vector<PersistentVolume> restoresOfThisStart(const InstanceObservation& o,
                                                  const LaunchResolution& launch) {
  if (o.instance->metadata.deletionTimestamp || !o.kubevirtInstalled || !launch.ok() ||
      (o.vm != nullptr && !vmIsOurs(o)) || !renderedForStart(o))
    return {};
  return volumesToRestore(o, launch.spec);
}

}  // namespace

std::vector<std::string> snapshotsToRead(const InstanceObservation& o,
                                         const LaunchResolution& launch) {
  std::vector<std::string> out;
  for (const PersistentVolume& v : restoresOfThisStart(o, launch))
    if (std::find(out.begin(), out.end(), v.snapshot) == out.end()) out.push_back(v.snapshot);
  return out;
}

std::vector<std::string> restoredDataVolumesToRead(const InstanceObservation& o,
                                                   const LaunchResolution& launch) {
  std::vector<std::string> out;
  for (const PersistentVolume& v : restoresOfThisStart(o, launch)) out.push_back(v.dataVolume);
  return out;
}

bool cloudInitSecretToRead(const InstanceObservation& o, const LaunchResolution& launch) {
  if (o.instance->metadata.deletionTimestamp || !o.kubevirtInstalled || !launch.ok() ||
      (o.vm != nullptr && !vmIsOurs(o)) || !renderedForStart(o))
    return false;
  const json* launched = launchedCloudInit(o.vm);
  return !secretsOf(launch.spec).empty() ||
         (launched != nullptr && kube::jsonAt(launched, {"cloudInitNoCloud", "secretRef"}));
}

std::vector<std::string> claimsToCheck(const InstanceObservation& o,
                                       const LaunchResolution& launch) {
  if (!o.instance->metadata.deletionTimestamp || vmIsOurs(o)) return {};
  // As the last start made them (status.volumes), whatever the spec or its
  // template says by now; an instance from before status recorded them
  // falls back to its launch.
  std::vector<std::string> out;
  if (o.instance->status && o.instance->status->volumes) {
    for (const auto& v : *o.instance->status->volumes)
      if (v.deleteOnTermination) out.push_back(v.claimName);
    return out;
  }
  if (!launch.ok()) return out;
  return volumesOf(o.instance->metadata.name, o.instance->metadata.namespace_, launch.spec)
      .deletedWithInstance();
}

Plan planInstance(const InstanceObservation& o) {
  return withFinalizer(
      o.instance->metadata, api::kInstanceFinalizer, [&] { return run(o); },
      [&] { return terminate(o); });
}

}  // namespace kubec2::reconcilers
