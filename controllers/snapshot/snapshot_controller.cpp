#include "controllers/snapshot/snapshot_controller.h"

#include "api/resources.h"
#include "api/snapshot.h"
#include "api/v1alpha1/types.h"
#include "api/well_known.h"
#include "controllers/common/executor.h"
#include "reconcilers/snapshot/plan.h"
#include "reconcilers/snapshot/schedule.h"
#include "runtime/controller.h"
#include "runtime/finalizers.h"
#include "runtime/log.h"
#include "runtime/optional_api.h"
#include "runtime/timefmt.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;
namespace snapr = kubec2::reconcilers::snapshot;

class SnapshotReconciler final : public kube::Reconciler {
 public:
  struct Sources {
    kube::Informer<v1::Snapshot>& snapshots;
    kube::Informer<v1::Instance>& instances;
    std::shared_ptr<kube::OptionalApi> csi;
    kube::Informer<kube::RawObject>& volumeSnapshots;
    std::shared_ptr<kube::OptionalApi> kubevirt;  // snapshot.kubevirt.io
    kube::Informer<kube::RawObject>& virtualMachineSnapshots;
  };

  SnapshotReconciler(kube::Client& client, Sources s, kube::Recorder& events,
                     std::string fieldManager)
      : s_(std::move(s)), client_(client), executor_(client, events, std::move(fieldManager)) {}

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const auto snap = fetchSubject(s_.snapshots, req, executor_);
    if (!snap) return kube::Result::done();

    const auto csi = s_.csi->state();
    if (csi == kube::OptionalApi::State::Unknown) return kube::Result::after(1s);
    if (csi == kube::OptionalApi::State::Served && !s_.csi->synced())
      return kube::Result::after(1s);

    const auto kubevirt = s_.kubevirt->state();
    if (kubevirt == kube::OptionalApi::State::Unknown) return kube::Result::after(1s);
    if (kubevirt == kube::OptionalApi::State::Served && !s_.kubevirt->synced())
      return kube::Result::after(1s);

    snapr::SnapshotObservation o;
    o.snapshot = snap.get();
    o.now = ctx.clock.wallNow();
    o.volumeSnapshotsServed = csi == kube::OptionalApi::State::Served;
    o.virtualMachineSnapshotsServed = kubevirt == kube::OptionalApi::State::Served;
    const bool asked = snapr::copiesAsked(*snap);
    const bool final = snap->status && snap->status->state.value_or("") == "error";
    const bool byKubeVirt =
        snapr::usesVirtualMachineSnapshot(*snap, o.virtualMachineSnapshotsServed);

    // Before the copies are asked for: the instance, read live when the
    // cache does not show it (a Snapshot created just after its instance
    // must not fail on a cache that has not seen it yet).
    std::shared_ptr<const v1::Instance> instance;
    if (!asked && !final && o.volumeSnapshotsServed) {
      instance = s_.instances.store().get(req.namespace_, snap->spec.instanceRef.name);
      if (!instance)
        if (auto live = kube::getIfExists(client_, v1::Instance::resource(), req.namespace_,
                                          snap->spec.instanceRef.name))
          instance = std::make_shared<const v1::Instance>(v1::Instance::fromJson(*live));
      if (snap->spec.volumeSnapshotClassName && !byKubeVirt)
        o.classExists = kube::getIfExists(client_, api::kVolumeSnapshotClasses, "",
                                          *snap->spec.volumeSnapshotClassName)
                            .has_value();
    }
    o.instance = instance.get();

    // KubeVirt's VirtualMachineSnapshot, and once it has made the copies,
    // its content (which names them).
    std::vector<std::string> kubevirtCopies;
    if (byKubeVirt && o.virtualMachineSnapshotsServed && o.volumeSnapshotsServed && !final &&
        (asked || instance)) {
      const std::string name =
          snap->status ? snap->status->virtualMachineSnapshotName.value_or(req.name) : req.name;
      std::optional<json> vms;
      if (auto cached = s_.virtualMachineSnapshots.store().get(req.namespace_, name))
        vms = cached->toJson();
      else
        vms = kube::getIfExists(client_, api::kVirtualMachineSnapshots, req.namespace_, name);
      if (vms && !kube::isControlledBy(*vms, snap->metadata.uid)) {
        o.virtualMachineSnapshotNameTaken = true;
      } else if (vms) {
        const json* ready = kube::jsonAt(&*vms, {"status", "readyToUse"});
        const json* content = kube::jsonAt(&*vms, {"status", "virtualMachineSnapshotContentName"});
        const bool recorded = snap->status && snap->status->volumes;
        if (!recorded && ready != nullptr && ready->is_boolean() && ready->get<bool>() &&
            content != nullptr && content->is_string())
          o.virtualMachineSnapshotContent =
              kube::getIfExists(client_, api::kVirtualMachineSnapshotContents, req.namespace_,
                                content->get<std::string>());
        if (o.virtualMachineSnapshotContent)
          for (const auto& copy : snapr::copiesOfContent(*o.virtualMachineSnapshotContent))
            kubevirtCopies.push_back(copy.volumeSnapshotName);
        o.virtualMachineSnapshot = std::move(vms);
      }
    }

    // The copies: each of this Snapshot's names, from the cache, else read
    // live: a copy is called lost, or a name taken, only on the server's
    // word. KubeVirt's are its content's (not labelled: read live).
    if (o.volumeSnapshotsServed && !final) {
      std::vector<std::string> names;
      if (asked && snap->status->volumes) {
        for (const auto& c : *snap->status->volumes) names.push_back(c.volumeSnapshotName);
      } else if (byKubeVirt) {
        names = kubevirtCopies;
      } else if (instance) {
        for (const auto& v : snapr::volumesToCopy(*snap, *instance))
          names.push_back(api::volumeSnapshotName(req.name, v.name));
      }
      for (const auto& name : names) {
        std::optional<json> vs;
        if (auto cached = s_.volumeSnapshots.store().get(req.namespace_, name))
          vs = cached->toJson();
        else  // a cache behind, or somebody else's object of the name (not labelled)
          vs = kube::getIfExists(client_, api::kVolumeSnapshots, req.namespace_, name);
        if (!vs) continue;
        if (byKubeVirt || kube::isControlledBy(*vs, snap->metadata.uid))
          o.volumeSnapshots[name] = std::move(*vs);
        else
          o.namesTaken.insert(name);
      }
    }
    return executor_.execute({v1::Snapshot::resource(), snap->toJson()}, snapr::planSnapshot(o),
                             ctx);
  }

 private:
  Sources s_;
  kube::Client& client_;
  PlanExecutor executor_;
};

// An Instance's snapshotSchedule: keyed by Instance, its scheduled
// Snapshots from the cache (a create whose answer was lost is sent again
// under the same name, so a cache behind never makes two).
class SnapshotScheduleReconciler final : public kube::Reconciler {
 public:
  SnapshotScheduleReconciler(kube::Client& client, kube::Informer<v1::Instance>& instances,
                             kube::Informer<v1::Snapshot>& snapshots, kube::Recorder& events,
                             std::string fieldManager)
      : instances_(instances),
        snapshots_(snapshots),
        executor_(client, events, std::move(fieldManager)) {
    // The Instance's status is the Instance controller's: a scheduled
    // Snapshot refused is a Warning Event, never Ready False.
    executor_.reportFailuresInStatus(false);
  }

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const auto inst = fetchSubject(instances_, req, executor_);
    if (!inst || !inst->spec.snapshotSchedule) return kube::Result::done();
    snapr::ScheduleObservation o;
    o.instance = inst.get();
    o.now = ctx.clock.wallNow();
    for (const auto& s : snapshots_.store().byNamespace(req.namespace_)) {
      const auto& labels = s->metadata.labels;
      auto is = [&](const char* key, const std::string& value) {
        const auto it = labels.find(key);
        return it != labels.end() && it->second == value;
      };
      const auto at = s->metadata.annotations.find(api::kScheduledForAnnotation);
      const auto when =
          at == s->metadata.annotations.end() ? std::nullopt : kube::parseRfc3339Utc(at->second);
      // Only what this Instance's schedule wrote counts (an earlier
      // Instance of the name had another uid; a hand-made one lacks it).
      if (!is(api::kScheduleLabel, "true") || !is(api::kInstanceLabel, req.name) ||
          !is(api::kInstanceUidLabel, inst->metadata.uid) || !when) {
        o.otherNames.insert(s->metadata.name);
        continue;
      }
      o.taken.push_back({s->metadata.name, s->metadata.uid, *when,
                         s->metadata.deletionTimestamp.has_value(),
                         s->status ? s->status->state.value_or("") : ""});
    }
    return executor_.execute({v1::Instance::resource(), inst->toJson()},
                             snapr::planSnapshotSchedule(o), ctx);
  }

 private:
  kube::Informer<v1::Instance>& instances_;
  kube::Informer<v1::Snapshot>& snapshots_;
  PlanExecutor executor_;
};

}  // namespace

void addSnapshotController(kube::Manager& mgr, kube::Recorder& events,
                           const SnapshotControllerOptions& opts) {
  auto& client = mgr.client();
  // An operator upgraded before its CRDs (Helm never upgrades crds/) must
  // still run every other controller: without the kind, this one is off.
  if (!client.isServed(api::kGroup, "v1alpha1", v1::Snapshot::resource().resource)) {
    kube::log::warn(
        "Snapshots are not served: the Snapshot controller is off until the operator restarts "
        "(apply crds/ first: docs/operations.md, Upgrades)");
    return;
  }
  auto& snapshots = mgr.informer<v1::Snapshot>(v1::Snapshot::resource());
  auto& instances = mgr.informer<v1::Instance>(v1::Instance::resource());
  // The CSI snapshot API (and KubeVirt's) may be installed after the
  // operator: Snapshots say so meanwhile (SnapshotsNotSupported) and are
  // looked at again when it appears.
  auto served = std::make_shared<kube::Channel>();
  auto optionalApi = [&](const char* name) {
    return std::make_shared<kube::OptionalApi>(
        client, kube::OptionalApi::Options{
                    .name = name,
                    .namespace_ = mgr.options().namespace_,
                    .retryPeriod = std::min(opts.discoveryPeriod, std::chrono::milliseconds(2000)),
                    .missingPeriod = opts.discoveryPeriod,
                    .onServed = [&snapshots, served] {
                      for (const auto& s : snapshots.store().list())
                        served->send({s->metadata.namespace_, s->metadata.name});
                    }});
  };
  auto csi = optionalApi("CSI snapshots");
  auto& volumeSnapshots = csi->informer(
      api::kVolumeSnapshots, {.labelSelector = std::string(api::kSnapshotLabel)});  // label exists
  mgr.add(kube::OptionalApi::runnable(csi));
  // KubeVirt's snapshot API, used where served (status.method).
  auto kubevirt = optionalApi("KubeVirt snapshots");
  auto& virtualMachineSnapshots = kubevirt->informer(
      api::kVirtualMachineSnapshots, {.labelSelector = std::string(api::kSnapshotLabel)});
  mgr.add(kube::OptionalApi::runnable(kubevirt));

  // An Instance's change concerns the Snapshots waiting to copy it.
  auto snapshotsOf = [&snapshots](const kube::ObjectMeta& inst) {
    std::vector<kube::Request> out;
    for (const auto& s : snapshots.store().byNamespace(inst.namespace_))
      if (s->spec.instanceRef.name == inst.name && !snapr::copiesAsked(*s))
        out.push_back({s->metadata.namespace_, s->metadata.name});
    return out;
  };

  // Scheduled Snapshots concern the instance they were taken of.
  auto instanceOfScheduled = [](const kube::ObjectMeta& snap) {
    std::vector<kube::Request> out;
    const auto scheduled = snap.labels.find(api::kScheduleLabel);
    const auto of = snap.labels.find(api::kInstanceLabel);
    if (scheduled != snap.labels.end() && of != snap.labels.end())
      out.push_back({snap.namespace_, of->second});
    return out;
  };
  kube::ControllerBuilder(mgr, "snapshot-schedule")
      .forResource(instances)
      .watches(snapshots, instanceOfScheduled)
      .complete(std::make_shared<SnapshotScheduleReconciler>(
          mgr.controllerClient("snapshot-schedule"), instances, snapshots, events,
          opts.fieldManager));

  kube::ControllerBuilder(mgr, "snapshot")
      .forResource(snapshots)
      .watches(instances, snapshotsOf)
      .owns(volumeSnapshots, "Snapshot", api::kApiVersion)
      .owns(virtualMachineSnapshots, "Snapshot", api::kApiVersion)
      .watches(*served)
      .complete(std::make_shared<SnapshotReconciler>(
          mgr.controllerClient("snapshot"),
          SnapshotReconciler::Sources{snapshots, instances, csi, volumeSnapshots, kubevirt,
                                      virtualMachineSnapshots},
          events, opts.fieldManager));
}

}  // namespace kubec2::controllers
