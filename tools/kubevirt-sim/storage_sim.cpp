#include "tools/kubevirt-sim/storage_sim.h"

#include <algorithm>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/timefmt.h"
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

std::string str(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object()) return "";
    auto it = cur->find(k);
    if (it == cur->end()) return "";
    cur = &*it;
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

const json& statusOf(const json& obj) {
  static const json kEmpty = json::object();
  auto it = obj.find("status");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
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
                if (str(vs->toJson(), {"spec", "source", "persistentVolumeClaimName"}) == m.name)
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

}  // namespace kubec2::sim
