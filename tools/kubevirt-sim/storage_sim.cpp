#include "tools/kubevirt-sim/storage_sim.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/timefmt.h"
#include "tools/kubevirt-sim/json_path.h"
#include "tools/kubevirt-sim/model.h"

namespace kubec2::sim {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace {

const kube::log::Logger& logger() {
  static const kube::log::Logger l("kubevirt-sim-storage");
  return l;
}

kube::PatchOptions statusOpts() {
  kube::PatchOptions o;
  o.fieldManager = "kubevirt-sim";
  o.subresource = "status";
  return o;
}

// CDI's conditions carry lastHeartbeatTime and lastTransitionTime (no
// lastProbeTime).
json cdiConditionTimes(json desired, const json& current, const std::string& now) {
  desired = withTransitionTimes(std::move(desired), current, now);
  if (auto it = desired.find("conditions"); it != desired.end() && it->is_array()) {
    for (auto& c : *it) {
      c.erase("lastProbeTime");
      c["lastHeartbeatTime"] = c["lastTransitionTime"];
    }
  }
  return desired;
}

std::vector<kube::Request> ownerOf(const kube::ObjectMeta& m, const char* kind) {
  const kube::OwnerReference* ref = m.controllerRef();
  if (ref && ref->kind == kind) return {{m.namespace_, ref->name}};
  return {};
}

}  // namespace

StorageSim::StorageSim(kube::Manager& mgr, StorageOptions opts)
    : opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : kube::SystemClock::instance()),
      client_(mgr.client()) {
  const kube::InformerOptions nsOpts{.namespace_ = opts_.namespace_};
  if (opts_.cdi || opts_.snapshots)
    pvcs_ = &mgr.informer<kube::RawObject>(kPersistentVolumeClaims, nsOpts);
  if (opts_.cdi) dvs_ = &mgr.informer<kube::RawObject>(kDataVolumes, nsOpts);
  if (opts_.snapshots) {
    vss_ = &mgr.informer<kube::RawObject>(kVolumeSnapshots, nsOpts);
    classes_ = &mgr.informer<kube::RawObject>(kVolumeSnapshotClasses);
    contents_ = &mgr.informer<kube::RawObject>(kVolumeSnapshotContents);
  }
  kube::WorkQueueOptions q;
  q.qps = 100;
  q.burst = 1000;
  q.clock = opts_.clock;
  const int workers = std::max(1, opts_.workers);

  if (opts_.cdi) {
    auto* dvs = dvs_;
    // A claim maps to its DataVolume and to the DataVolumes cloning it.
    auto claimToDvs = [dvs](const kube::ObjectMeta& m) {
      std::vector<kube::Request> out = ownerOf(m, "DataVolume");
      for (const auto& dv : dvs->store().list()) {
        // Most DataVolumes never name this claim: skip them unparsed.
        if (dv->json.find('"' + m.name + '"') == std::string::npos) continue;
        const DvSource s = dvSourceOf(dv->toJson());
        if (s.kind == DvSourceKind::Pvc && s.namespace_ == m.namespace_ && s.name == m.name)
          out.push_back({dv->metadata.namespace_, dv->metadata.name});
      }
      return out;
    };
    kube::ControllerBuilder b(mgr, "kubevirt-sim-cdi");
    b.forResource(*dvs_).watches(*pvcs_, claimToDvs);
    if (vss_) {
      b.watches(*vss_, [dvs](const kube::ObjectMeta& m) {
        std::vector<kube::Request> out;
        for (const auto& dv : dvs->store().list()) {
          if (dv->json.find('"' + m.name + '"') == std::string::npos) continue;
          const DvSource s = dvSourceOf(dv->toJson());
          if (s.kind == DvSourceKind::Snapshot && s.namespace_ == m.namespace_ && s.name == m.name)
            out.push_back({dv->metadata.namespace_, dv->metadata.name});
        }
        return out;
      });
    }
    b.withMaxConcurrentReconciles(workers).withQueueOptions(q).complete(
        kube::reconcilerFunc([this](const kube::Request& r) { return reconcileDataVolume(r); }));
  }

  if (opts_.snapshots) {
    auto* vss = vss_;
    kube::ControllerBuilder(mgr, "kubevirt-sim-snapshots")
        .forResource(*vss_)
        // A class created later (or made default) lets waiting snapshots go on.
        .watches(*classes_, kube::enqueueAllOf(*vss_))
        // So does their claim, created or bound later.
        .watches(
            *pvcs_,
            [vss](const kube::ObjectMeta& m) {
              std::vector<kube::Request> out;
              for (const auto& vs : vss->store().byNamespace(m.namespace_))
                if (vs->json.find('"' + m.name + '"') != std::string::npos &&
                    str(vs->toJson(), {"spec", "source", "persistentVolumeClaimName"}) == m.name)
                  out.push_back({vs->metadata.namespace_, vs->metadata.name});
              return out;
            })
        .withMaxConcurrentReconciles(workers)
        .withQueueOptions(q)
        .complete(
            kube::reconcilerFunc([this](const kube::Request& r) { return reconcileSnapshot(r); }));
    kube::ControllerBuilder(mgr, "kubevirt-sim-snapshot-contents")
        .forResource(*contents_)
        // A snapshot's events (its deletion above all) concern its content.
        .watches(*vss_,
                 [](const kube::ObjectMeta& m) {
                   return std::vector<kube::Request>{{"", contentNameFor(m.uid)}};
                 })
        .withMaxConcurrentReconciles(workers)
        .withQueueOptions(q)
        .complete(
            kube::reconcilerFunc([this](const kube::Request& r) { return reconcileContent(r); }));
  }

  if (opts_.snapshots && opts_.vmSnapshots) {
    vms_ = &mgr.informer<kube::RawObject>(api::kVirtualMachines, nsOpts);
    vmis_ = &mgr.informer<kube::RawObject>(api::kVirtualMachineInstances, nsOpts);
    vmSnapshots_ = &mgr.informer<kube::RawObject>(kVirtualMachineSnapshots, nsOpts);
    vmContents_ = &mgr.informer<kube::RawObject>(kVirtualMachineSnapshotContents, nsOpts);
    auto* snaps = vmSnapshots_;
    auto* contents = vmContents_;
    // The VirtualMachineSnapshot a content (by its spec) belongs to.
    auto contentToSnapshot = [contents](const std::string& ns, const std::string& name) {
      std::vector<kube::Request> out;
      if (auto c = contents->store().get(ns, name)) {
        const std::string snap = str(c->toJson(), {"spec", "virtualMachineSnapshotName"});
        if (!snap.empty()) out.push_back({ns, snap});
      }
      return out;
    };
    auto allInNamespace = [snaps](const kube::ObjectMeta& m) {
      std::vector<kube::Request> out;
      for (const auto& s : snaps->store().byNamespace(m.namespace_))
        out.push_back({s->metadata.namespace_, s->metadata.name});
      return out;
    };
    kube::ControllerBuilder(mgr, "kubevirt-sim-vmsnapshots")
        .forResource(*vmSnapshots_)
        .watches(*vmContents_,
                 [contentToSnapshot](const kube::ObjectMeta& m) {
                   return contentToSnapshot(m.namespace_, m.name);
                 })
        .watches(*vss_,
                 [contentToSnapshot](const kube::ObjectMeta& m) {
                   const kube::OwnerReference* ref = m.controllerRef();
                   if (!ref || ref->kind != "VirtualMachineSnapshotContent")
                     return std::vector<kube::Request>{};
                   return contentToSnapshot(m.namespace_, ref->name);
                 })
        .watches(*vms_,
                 [snaps](const kube::ObjectMeta& m) {
                   std::vector<kube::Request> out;
                   for (const auto& s : snaps->store().byNamespace(m.namespace_))
                     if (str(s->toJson(), {"spec", "source", "name"}) == m.name)
                       out.push_back({s->metadata.namespace_, s->metadata.name});
                   return out;
                 })
        .watches(*pvcs_, allInNamespace)
        .watches(*classes_, kube::enqueueAllOf(*vmSnapshots_))
        .withMaxConcurrentReconciles(workers)
        .withQueueOptions(q)
        .complete(kube::reconcilerFunc(
            [this](const kube::Request& r) { return reconcileVmSnapshot(r); }));
    kube::ControllerBuilder(mgr, "kubevirt-sim-vmsnapshot-contents")
        .forResource(*vmContents_)
        .watches(*vmSnapshots_,
                 [](const kube::ObjectMeta& m) {
                   return std::vector<kube::Request>{{m.namespace_, vmSnapshotContentName(m.uid)}};
                 })
        .withMaxConcurrentReconciles(workers)
        .withQueueOptions(q)
        .complete(kube::reconcilerFunc(
            [this](const kube::Request& r) { return reconcileVmSnapshotContent(r); }));
  }
}

std::string StorageSim::now() const {
  return kube::formatRfc3339(clock_.wallNow());
}

std::optional<json> StorageSim::getObject(kube::Informer<kube::RawObject>* inf,
                                          const kube::Resource& r, const std::string& ns,
                                          const std::string& name) {
  if (inf && (!r.namespaced || inScope(ns))) {
    if (auto o = inf->store().get(ns, name)) return o->toJson();
    return std::nullopt;
  }
  // Outside the namespace the informer watches (a clone source elsewhere).
  try {
    return client_.get(r, ns, name);
  } catch (const kube::ApiError& e) {
    if (e.isNotFound()) return std::nullopt;
    throw;
  }
}

// ---- virt-controller: a VM's DataVolumes -----------------------------------------------

VmVolumesView StorageSim::syncVmDataVolumes(const json& vm) {
  const std::string ns = str(vm, {"metadata", "namespace"});
  const json& templates =
      vm.contains("spec") ? vm["spec"].value("dataVolumeTemplates", json()) : json();
  if (dvs_ && templates.is_array()) {
    for (const auto& t : templates) {
      const std::string name = str(t, {"metadata", "name"});
      if (name.empty() || dvs_->store().get(ns, name)) continue;
      try {
        client_.create(kDataVolumes, ns, renderDataVolume(vm, t));
        logger().info("Created DataVolume",
                      {{"dataVolume", ns + "/" + name}, {"vm", str(vm, {"metadata", "name"})}});
      } catch (const kube::ApiError& e) {
        if (!e.isAlreadyExists()) throw;
      }
    }
  }
  const std::vector<std::string> names = vmDataVolumeNames(vm);
  std::vector<json> found;
  for (const auto& n : names) {
    auto dv = dvs_ ? dvs_->store().get(ns, n) : nullptr;
    found.push_back(dv ? dv->toJson() : json());
  }
  return vmVolumesView(names, found);
}

// ---- CDI ---------------------------------------------------------------------------------

void StorageSim::writeDataVolumeStatus(const kube::RawObject& dv, json desired) {
  const json current = statusOf(dv.toJson());
  desired = cdiConditionTimes(std::move(desired), current, now());
  if (satisfies(current, desired)) return;
  client_.patch(kDataVolumes, dv.metadata.namespace_, dv.metadata.name, kube::PatchType::Merge,
                {{"metadata", {{"uid", dv.metadata.uid}}}, {"status", desired}}, statusOpts());
}

kube::Result StorageSim::reconcileDataVolume(const kube::Request& req) {
  const auto dv = dvs_->store().get(req.namespace_, req.name);
  const auto cachedClaim = pvcs_->store().get(req.namespace_, req.name);
  const kube::OwnerReference* claimRef =
      cachedClaim ? cachedClaim->metadata.controllerRef() : nullptr;
  const bool claimOwnedByADv = claimRef && claimRef->kind == "DataVolume";
  if (!dv) {
    // The garbage collector would delete the claim too; not every test
    // control plane runs it, and this is quicker.
    if (claimOwnedByADv && !cachedClaim->metadata.deletionTimestamp) {
      kube::DeleteOptions o;
      o.preconditionUid = cachedClaim->metadata.uid;
      try {
        client_.del(kPersistentVolumeClaims, req.namespace_, req.name, o);
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound() && !e.isConflict()) throw;
      }
    }
    return kube::Result::done();
  }
  if (dv->metadata.deletionTimestamp) return kube::Result::done();
  const json dvJ = dv->toJson();

  if (cachedClaim) {
    if (!claimOwnedByADv || claimRef->uid != dv->metadata.uid) {
      // CDI's ErrResourceExists.
      logger().warn("A claim of that name is not the DataVolume's; leaving both alone",
                    {{"dataVolume", req.key()}});
      return kube::Result::done();
    }
    json claim = cachedClaim->toJson();
    if (str(claim, {"status", "phase"}) != "Bound") {
      claim =
          client_.patch(kPersistentVolumeClaims, req.namespace_, req.name, kube::PatchType::Merge,
                        {{"status", boundClaimStatus(claim)}}, statusOpts());
    }
    writeDataVolumeStatus(*dv, dataVolumeSucceeded(dvJ));
    return kube::Result::done();
  }

  const DvSource src = dvSourceOf(dvJ);
  SourceView source;
  if (src.kind == DvSourceKind::Pvc) {
    auto c = getObject(pvcs_, kPersistentVolumeClaims, src.namespace_, src.name);
    source = claimSourceView(c ? &*c : nullptr);
  } else if (src.kind == DvSourceKind::Snapshot && vss_) {
    auto s = getObject(vss_, kVolumeSnapshots, src.namespace_, src.name);
    source = snapshotSourceView(s ? &*s : nullptr);
  }
  const DvDecision d = decideDataVolume(dvJ, source);
  if (!d.createClaim) {
    writeDataVolumeStatus(*dv, d.waitingStatus);
    // Sources in another namespace are not watched: look again later.
    const bool watched = inScope(src.namespace_);
    return watched ? kube::Result::done() : kube::Result::after(std::chrono::seconds(2));
  }
  json claim;
  try {
    claim = client_.create(kPersistentVolumeClaims, req.namespace_, d.claim);
    logger().info("Created claim",
                  {{"dataVolume", req.key()},
                   {"size", str(d.claim, {"spec", "resources", "requests", "storage"})}});
  } catch (const kube::ApiError& e) {
    if (!e.isAlreadyExists()) throw;
    return kube::Result::requeueNow();  // our cache is behind: come back with it
  }
  client_.patch(kPersistentVolumeClaims, req.namespace_, req.name, kube::PatchType::Merge,
                {{"status", boundClaimStatus(claim)}}, statusOpts());
  writeDataVolumeStatus(*dv, dataVolumeSucceeded(dvJ));
  return kube::Result::done();
}

// ---- snapshot-controller and the CSI driver ------------------------------------------------

void StorageSim::writeSnapshotStatus(const json& vs, const json& desired) {
  if (satisfies(statusOf(vs), desired)) return;
  client_.patch(kVolumeSnapshots, str(vs, {"metadata", "namespace"}), str(vs, {"metadata", "name"}),
                kube::PatchType::Merge,
                {{"metadata", {{"uid", str(vs, {"metadata", "uid"})}}}, {"status", desired}},
                statusOpts());
}

kube::Result StorageSim::reconcileSnapshot(const kube::Request& req) {
  const auto cached = vss_->store().get(req.namespace_, req.name);
  if (!cached || cached->metadata.deletionTimestamp) return kube::Result::done();
  json vs = cached->toJson();
  if (!isDynamicSnapshot(vs)) {
    logger().info(
        "Pre-provisioned VolumeSnapshot (spec.source.volumeSnapshotContentName): not played",
        {{"volumeSnapshot", req.key()}});
    return kube::Result::done();
  }
  const std::string uid = cached->metadata.uid;
  const std::string contentName = contentNameFor(uid);
  const milliseconds delay = opts_.snapshotDelay;

  auto content = contents_->store().get("", contentName);
  json contentJ;
  if (content) {
    contentJ = content->toJson();
    if (str(contentJ, {"spec", "volumeSnapshotRef", "uid"}) != uid) {
      logger().warn("The content of that name is bound to another snapshot",
                    {{"volumeSnapshot", req.key()}, {"content", contentName}});
      return kube::Result::done();
    }
  } else {
    const auto claim = pvcs_->store().get(req.namespace_,
                                          str(vs, {"spec", "source", "persistentVolumeClaimName"}));
    std::vector<json> classes;
    for (const auto& c : classes_->store().list()) classes.push_back(c->toJson());
    const json claimJ = claim ? claim->toJson() : json();
    const SnapshotDecision d = decideSnapshot(vs, classes, claim ? &claimJ : nullptr);
    if (!d.error.empty()) {
      if (str(vs, {"status", "error", "message"}) != d.error) {
        writeSnapshotStatus(vs, snapshotErrorStatus(d.error, now()));
        logger().info("VolumeSnapshot error", {{"volumeSnapshot", req.key()}, {"error", d.error}});
      }
      // The class or claim it waits for brings it back (watched); retry as
      // the snapshot-controller does meanwhile.
      return kube::Result::requeueNow();
    }
    if (d.setDefaultClass) {
      vs = client_.patch(
          kVolumeSnapshots, req.namespace_, req.name, kube::PatchType::Merge,
          {{"spec", {{"volumeSnapshotClassName", str(d.snapshotClass, {"metadata", "name"})}}}});
    }
    // The cut: the driver's CreateSnapshot answers with the time and size.
    const auto cut = clock_.wallNow();
    const std::int64_t cutNanos = duration_cast<nanoseconds>(cut.time_since_epoch()).count();
    try {
      contentJ = client_.create(
          kVolumeSnapshotContents, "",
          renderContent(vs, d.snapshotClass,
                        "kubevirt-sim-" + claimJ["metadata"].value("uid", std::string())));
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists()) throw;
      return kube::Result::requeueNow();  // our cache is behind
    }
    contentJ = client_.patch(kVolumeSnapshotContents, "", contentName, kube::PatchType::Merge,
                             {{"status", contentStatus(delay.count() == 0, d.restoreSize,
                                                       "kubevirt-sim/snapshot-" + uid, cutNanos)}},
                             statusOpts());
    logger().info("Cut snapshot", {{"volumeSnapshot", req.key()},
                                   {"content", contentName},
                                   {"class", str(d.snapshotClass, {"metadata", "name"})}});
  }

  // Ready after the delay, counted from the cut (the content's creationTime).
  const json& ct =
      contentJ["status"].is_object() ? contentJ["status"].value("creationTime", json()) : json();
  const auto wall = clock_.wallNow();
  std::chrono::system_clock::time_point cut = wall;
  if (ct.is_number())
    cut = std::chrono::system_clock::time_point(
        duration_cast<std::chrono::system_clock::duration>(nanoseconds(ct.get<std::int64_t>())));
  const bool ready = wall >= cut + delay;
  std::string size;
  if (const json& rs =
          contentJ["status"].is_object() ? contentJ["status"].value("restoreSize", json()) : json();
      rs.is_number())
    size = formatBytes(rs.get<std::int64_t>());
  if (ready && !(contentJ["status"].is_object() && contentJ["status"].value("readyToUse", false))) {
    client_.patch(kVolumeSnapshotContents, "", contentName, kube::PatchType::Merge,
                  {{"status", {{"readyToUse", true}}}}, statusOpts());
  }
  writeSnapshotStatus(vs, snapshotStatus(contentName, kube::formatRfc3339(cut), ready, size));
  if (!ready)
    return kube::Result::after(std::max(
        milliseconds(1), duration_cast<milliseconds>(cut + delay - wall) + milliseconds(1)));
  return kube::Result::done();
}

kube::Result StorageSim::reconcileContent(const kube::Request& req) {
  const auto content = contents_->store().get("", req.name);
  if (!content || content->metadata.deletionTimestamp) return kube::Result::done();
  const json c = content->toJson();
  const std::string ns = str(c, {"spec", "volumeSnapshotRef", "namespace"});
  const std::string name = str(c, {"spec", "volumeSnapshotRef", "name"});
  const std::string uid = str(c, {"spec", "volumeSnapshotRef", "uid"});
  if (!inScope(ns) || str(c, {"spec", "source", "volumeHandle"}).empty())
    return kube::Result::done();
  const auto vs = vss_->store().get(ns, name);
  if (vs && (uid.empty() || vs->metadata.uid == uid)) return kube::Result::done();
  if (str(c, {"spec", "deletionPolicy"}) != "Delete") return kube::Result::done();  // Retain: kept
  kube::DeleteOptions o;
  o.preconditionUid = content->metadata.uid;
  try {
    client_.del(kVolumeSnapshotContents, "", req.name, o);
    logger().info("Deleted content of a deleted snapshot",
                  {{"content", req.name}, {"volumeSnapshot", ns + "/" + name}});
  } catch (const kube::ApiError& e) {
    if (!e.isNotFound() && !e.isConflict()) throw;
  }
  return kube::Result::done();
}

// ---- KubeVirt's snapshot controller -------------------------------------------------------

kube::Result StorageSim::reconcileVmSnapshot(const kube::Request& req) {
  const auto cached = vmSnapshots_->store().get(req.namespace_, req.name);
  if (!cached || cached->metadata.deletionTimestamp) return kube::Result::done();
  const json snap = cached->toJson();
  if (str(snap, {"spec", "source", "kind"}) != "VirtualMachine") {
    logger().warn("VirtualMachineSnapshot of an unknown source kind: not played",
                  {{"vmSnapshot", req.key()}});
    return kube::Result::done();
  }
  const std::string uid = cached->metadata.uid;
  const json current = statusOf(snap);
  const std::string phase = str(current, {"phase"});
  const auto vm = vms_->store().get(req.namespace_, str(snap, {"spec", "source", "name"}));
  const json vmJ = vm ? vm->toJson() : json();

  // spec.failureDeadline (default 5m) from the snapshot's creation.
  const auto deadline =
      parseGoDuration(str(snap, {"spec", "failureDeadline"})).value_or(std::chrono::minutes(5));
  const auto created = kube::parseRfc3339Utc(str(snap, {"metadata", "creationTimestamp"}));
  const auto wall = clock_.wallNow();
  const bool exceeded = deadline.count() > 0 && created && wall > *created + deadline;

  std::vector<json> classes;
  for (const auto& c : classes_->store().list()) classes.push_back(c->toJson());
  const std::string contentName = vmSnapshotContentName(uid);
  auto cachedContent = vmContents_->store().get(req.namespace_, contentName);
  json content = cachedContent ? cachedContent->toJson() : json();
  bool locked = false;

  if (vm && content.is_null() && phase != "Succeeded" && phase != "Failed" && !exceeded) {
    // The source's claims must exist and be Bound (KubeVirt's Lock waits).
    std::vector<VolumeClaim> included;
    std::vector<json> claims;
    bool waiting = false;
    for (const auto& v : vmClaimVolumes(vmJ)) {
      const auto claim = pvcs_->store().get(req.namespace_, v.claim);
      if (!claim || str(claim->toJson(), {"status", "phase"}) != "Bound") {
        waiting = true;
        break;
      }
      const json c = claim->toJson();
      const VmSnapshotClassChoice choice =
          vmSnapshotClass(classes, str(c, {"spec", "storageClassName"}));
      if (!choice.error.empty()) throw std::runtime_error(choice.error);
      if (choice.name.empty()) continue;  // no class for it: left out of the snapshot
      included.push_back(v);
      claims.push_back(c);
    }
    if (!waiting) {
      try {
        content = client_.create(kVirtualMachineSnapshotContents, req.namespace_,
                                 renderVmSnapshotContent(snap, vmJ, included, claims));
        logger().info("Created VirtualMachineSnapshotContent",
                      {{"vmSnapshot", req.key()}, {"volumes", included.size()}});
      } catch (const kube::ApiError& e) {
        if (!e.isAlreadyExists()) throw;
        return kube::Result::requeueNow();  // our cache is behind
      }
    }
  }

  if (content.is_object()) {
    locked = true;
    const json backups = content["spec"].value("volumeBackups", json::array());
    const json contentCurrent = statusOf(content);
    const bool contentCreated = !str(contentCurrent, {"creationTime"}).empty();
    std::vector<json> snapshots;
    for (const auto& b : backups) {
      const std::string vsName = str(b, {"volumeSnapshotName"});
      if (auto vs = vss_->store().get(req.namespace_, vsName)) {
        snapshots.push_back(vs->toJson());
        continue;
      }
      if (contentCreated || exceeded) {
        snapshots.push_back(json());
        continue;
      }
      const VmSnapshotClassChoice choice =
          vmSnapshotClass(classes, str(b, {"persistentVolumeClaim", "spec", "storageClassName"}));
      if (choice.name.empty())
        throw std::runtime_error(choice.error.empty() ? "no VolumeSnapshotClass for " + vsName
                                                      : choice.error);
      try {
        snapshots.push_back(client_.create(kVolumeSnapshots, req.namespace_,
                                           renderVmVolumeSnapshot(content, b, choice.name)));
      } catch (const kube::ApiError& e) {
        if (!e.isAlreadyExists()) throw;
        snapshots.push_back(client_.get(kVolumeSnapshots, req.namespace_, vsName));
      }
    }
    const json desired = vmSnapshotContentStatus(content, snapshots, contentCurrent, now());
    if (!satisfies(contentCurrent, desired))
      content = client_.patch(kVirtualMachineSnapshotContents, req.namespace_, contentName,
                              kube::PatchType::Merge, {{"status", desired}}, statusOpts());
  }

  VmSnapshotView view;
  view.sourceExists = vm != nullptr;
  view.sourceUid = vm ? vm->metadata.uid : "";
  view.online = vm && vmis_->store().get(req.namespace_, vm->metadata.name) != nullptr;
  view.locked = locked;
  view.content = content;
  view.deadlineExceeded = exceeded;
  if (content.is_object()) {
    const json source = content["spec"]["source"].value("virtualMachine", json::object());
    std::vector<std::string> inBackups;
    for (const auto& b : content["spec"].value("volumeBackups", json::array()))
      inBackups.push_back(str(b, {"volumeName"}));
    for (const auto& n : vmVolumeNames(source)) {
      if (std::find(inBackups.begin(), inBackups.end(), n) != inBackups.end())
        view.includedVolumes.push_back(n);
      else
        view.excludedVolumes.push_back(n);
    }
  }
  const json desired = withTransitionTimes(vmSnapshotStatus(current, view), current, now());
  if (!satisfies(current, desired)) {
    client_.patch(kVirtualMachineSnapshots, req.namespace_, req.name, kube::PatchType::Merge,
                  {{"metadata", {{"uid", uid}}}, {"status", desired}}, statusOpts());
  }
  // In progress: the deadline is the next thing that happens by itself.
  if (str(desired, {"phase"}) == "InProgress" && created) {
    const auto left = *created + deadline - wall;
    return kube::Result::after(
        std::max(milliseconds(1), duration_cast<milliseconds>(left) + milliseconds(1)));
  }
  return kube::Result::done();
}

kube::Result StorageSim::reconcileVmSnapshotContent(const kube::Request& req) {
  const auto cached = vmContents_->store().get(req.namespace_, req.name);
  if (!cached || cached->metadata.deletionTimestamp) return kube::Result::done();
  const json content = cached->toJson();
  const auto snap = vmSnapshots_->store().get(req.namespace_,
                                              str(content, {"spec", "virtualMachineSnapshotName"}));
  if (snap && vmSnapshotContentName(snap->metadata.uid) == req.name) return kube::Result::done();
  // Its VirtualMachineSnapshot is gone: deletionPolicy delete (the default)
  // takes the content and its VolumeSnapshots with it.
  if (str(content, {"metadata", "annotations", kRetainAnnotation}) == "true")
    return kube::Result::done();
  for (const auto& b : content["spec"].value("volumeBackups", json::array())) {
    try {
      client_.del(kVolumeSnapshots, req.namespace_, str(b, {"volumeSnapshotName"}));
    } catch (const kube::ApiError& e) {
      if (!e.isNotFound()) throw;
    }
  }
  kube::DeleteOptions o;
  o.preconditionUid = cached->metadata.uid;
  try {
    client_.del(kVirtualMachineSnapshotContents, req.namespace_, req.name, o);
    logger().info("Deleted the content of a deleted VirtualMachineSnapshot",
                  {{"content", req.key()}});
  } catch (const kube::ApiError& e) {
    if (!e.isNotFound() && !e.isConflict()) throw;
  }
  return kube::Result::done();
}

}  // namespace kubec2::sim
