#include "tools/kubevirt-sim/storage_model.h"

#include <cctype>
#include <cmath>

#include "tools/kubevirt-sim/json_path.h"
#include "tools/kubevirt-sim/model.h"

namespace kubec2::sim {

namespace {

// The kind of volume a DataVolume's spec.source asks for.
bool isCloneKind(DvSourceKind k) {
  return k == DvSourceKind::Pvc || k == DvSourceKind::Snapshot;
}

json condition(const char* type, const char* status, const std::string& reason,
               const std::string& message) {
  json c = {{"type", type}, {"status", status}};
  // Empty ones are left out (omitempty in CDI's types; the API server
  // refuses "" there in a merge patch).
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

}  // namespace

std::string goQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::optional<std::int64_t> quantityBytes(const std::string& q) {
  auto v = parseQuantity(q);
  if (!v || *v < 0) return std::nullopt;
  return static_cast<std::int64_t>(std::ceil(*v));
}

std::string formatBytes(std::int64_t bytes) {
  static const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int i = 0;
  while (bytes != 0 && bytes % 1024 == 0 && i < 6) {
    bytes /= 1024;
    ++i;
  }
  return std::to_string(bytes) + kSuffix[i];
}

// ---- virt-controller ---------------------------------------------------------------

json renderDataVolume(const json& vm, const json& tmpl) {
  const json& meta = field(vm, {"metadata"});
  const json& tmeta = field(tmpl, {"metadata"});
  json metadata = {{"name", str(tmeta, {"name"})},
                   {"namespace", str(meta, {"namespace"})},
                   {"ownerReferences", json::array({{{"apiVersion", "kubevirt.io/v1"},
                                                     {"kind", "VirtualMachine"},
                                                     {"name", str(meta, {"name"})},
                                                     {"uid", str(meta, {"uid"})},
                                                     {"controller", true},
                                                     {"blockOwnerDeletion", true}}})}};
  if (const json& l = field(tmeta, {"labels"}); l.is_object() && !l.empty()) metadata["labels"] = l;
  if (const json& a = field(tmeta, {"annotations"}); a.is_object() && !a.empty())
    metadata["annotations"] = a;
  const json& spec = field(tmpl, {"spec"});
  return {{"apiVersion", kCdiApiVersion},
          {"kind", "DataVolume"},
          {"metadata", std::move(metadata)},
          {"spec", spec.is_object() ? spec : json::object()}};
}

std::vector<std::string> vmDataVolumeNames(const json& vm) {
  std::vector<std::string> out;
  const json& vols = field(vm, {"spec", "template", "spec", "volumes"});
  if (!vols.is_array()) return out;
  for (const auto& v : vols) {
    const std::string n = str(v, {"dataVolume", "name"});
    if (!n.empty()) out.push_back(n);
  }
  return out;
}

VmVolumesView vmVolumesView(const std::vector<std::string>& names, const std::vector<json>& dvs) {
  VmVolumesView out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const json& dv = i < dvs.size() ? dvs[i] : json();
    if (!dv.is_object()) {
      out.ready = false;  // virt-controller waits for it (it creates the templated ones)
      continue;
    }
    const std::string phase = str(dv, {"status", "phase"});
    if (phase == "Succeeded") continue;
    out.ready = false;
    // KubeVirt's HasDataVolumeErrors: phase Failed, or the Running
    // condition False with reason Error (or ImagePullFailed).
    if (out.error.empty()) {
      if (phase == "Failed") {
        out.error = "DataVolume " + names[i] + " is in Failed phase";
      } else if (const json& conds = field(dv, {"status", "conditions"}); conds.is_array()) {
        for (const auto& c : conds) {
          const std::string reason = str(c, {"reason"});
          if (str(c, {"type"}) == "Running" && str(c, {"status"}) == "False" &&
              (reason == "Error" || reason == "ImagePullFailed"))
            out.error = "DataVolume " + names[i] +
                        " importer has stopped running due to an error: " + str(c, {"message"});
        }
      }
    }
    // HasDataVolumeProvisioning: not Succeeded, PendingPopulation or an
    // unbound WaitForFirstConsumer.
    if (phase != "PendingPopulation" && phase != "WaitForFirstConsumer") out.provisioning = true;
  }
  return out;
}

// ---- CDI ---------------------------------------------------------------------------

DvSource dvSourceOf(const json& dv) {
  DvSource s;
  const json& src = field(dv, {"spec", "source"});
  const std::string ns = str(dv, {"metadata", "namespace"});
  if (!src.is_object() || src.empty()) return s;
  if (src.contains("pvc")) {
    s.kind = DvSourceKind::Pvc;
    s.name = str(src, {"pvc", "name"});
    s.namespace_ = str(src, {"pvc", "namespace"});
  } else if (src.contains("snapshot")) {
    s.kind = DvSourceKind::Snapshot;
    s.name = str(src, {"snapshot", "name"});
    s.namespace_ = str(src, {"snapshot", "namespace"});
  } else {
    s.kind = DvSourceKind::Other;  // http, registry, blank, upload, ...: imported at once
  }
  if (s.namespace_.empty()) s.namespace_ = ns;
  return s;
}

SourceView claimSourceView(const json* claim) {
  SourceView v;
  if (!claim || !claim->is_object()) return v;
  v.exists = true;
  v.ready = str(*claim, {"status", "phase"}) == "Bound";
  v.size = str(*claim, {"status", "capacity", "storage"});
  if (v.size.empty()) v.size = str(*claim, {"spec", "resources", "requests", "storage"});
  return v;
}

SourceView snapshotSourceView(const json* snapshot) {
  SourceView v;
  if (!snapshot || !snapshot->is_object()) return v;
  v.exists = true;
  const json& ready = field(*snapshot, {"status", "readyToUse"});
  v.ready = ready.is_boolean() && ready.get<bool>();
  const json& size = field(*snapshot, {"status", "restoreSize"});
  if (size.is_string()) v.size = size.get<std::string>();
  if (size.is_number()) v.size = std::to_string(size.get<std::int64_t>());
  return v;
}

std::string requestedSize(const json& dv) {
  for (const char* k : {"storage", "pvc"}) {
    const json& s = field(dv, {"spec", k, "resources", "requests", "storage"});
    if (s.is_string() && !s.get<std::string>().empty()) return s.get<std::string>();
    if (s.is_number()) return std::to_string(s.get<std::int64_t>());
  }
  return "";
}

DvDecision decideDataVolume(const json& dv, const SourceView& source) {
  DvDecision d;
  const DvSource src = dvSourceOf(dv);
  std::string size = requestedSize(dv);
  if (isCloneKind(src.kind) &&
      (!source.exists || !source.ready || (size.empty() && source.size.empty()))) {
    // CDI's clone controllers (snapshot-clone-controller.go,
    // pvc-clone-controller.go): a source that does not exist is reported
    // with reason CloneWithoutSource and "The source <kind> <name> doesn't
    // exist" on the Bound and Ready conditions (updateBoundCondition with
    // no claim); one that exists but cannot be cloned yet leaves the
    // DataVolume CloneScheduled, Bound False "No PVC found" (NotFound).
    std::string reason, message;
    if (!source.exists) {
      reason = "CloneWithoutSource";
      message = std::string("The source ") +
                (src.kind == DvSourceKind::Snapshot ? "snapshot " : "pvc ") + src.name +
                " doesn't exist";
    }
    d.waitingStatus = {
        {"phase", "CloneScheduled"},
        {"conditions",
         json::array({condition("Bound", "False", reason.empty() ? "NotFound" : reason,
                                message.empty() ? "No PVC found" : message),
                      condition("Ready", "False", reason, message),
                      condition("Running", "False", "", "")})}};
    return d;
  }
  if (size.empty()) size = source.size;
  if (size.empty()) {
    d.waitingStatus = {
        {"phase", "Pending"},
        {"conditions",
         json::array({condition("Bound", "False", "ErrClaimNotValid", "missing storage size"),
                      condition("Ready", "False", "ErrClaimNotValid", "missing storage size"),
                      condition("Running", "False", "", "")})}};
    return d;
  }

  const json& meta = field(dv, {"metadata"});
  const json& pvcSpec = field(dv, {"spec", "pvc"});
  const json& storage = field(dv, {"spec", "storage"});
  json spec = pvcSpec.is_object() ? pvcSpec : json::object();
  if (!pvcSpec.is_object() && storage.is_object()) {
    for (const char* k : {"accessModes", "storageClassName", "volumeMode", "selector", "dataSource",
                          "dataSourceRef", "resources"})
      if (storage.contains(k)) spec[k] = storage[k];
  }
  if (!spec.contains("accessModes") || !spec["accessModes"].is_array() ||
      spec["accessModes"].empty())
    spec["accessModes"] = json::array({"ReadWriteOnce"});
  spec["resources"]["requests"]["storage"] = size;
  if (src.kind == DvSourceKind::Snapshot && src.namespace_ == str(meta, {"namespace"})) {
    spec["dataSource"] = {
        {"apiGroup", kSnapshotApiGroup}, {"kind", "VolumeSnapshot"}, {"name", src.name}};
    spec.erase("dataSourceRef");
  }
  json labels = json::object();
  labels["app"] = "containerized-data-importer";  // CDI's common.CDILabelKey
  if (const json& l = field(meta, {"labels"}); l.is_object())
    for (const auto& [k, v] : l.items()) labels[k] = v;
  d.createClaim = true;
  d.claim = {{"apiVersion", "v1"},
             {"kind", "PersistentVolumeClaim"},
             {"metadata",
              {{"name", str(meta, {"name"})},
               {"namespace", str(meta, {"namespace"})},
               {"labels", labels},
               {"annotations", {{"cdi.kubevirt.io/storage.populatedFor", str(meta, {"name"})}}},
               {"ownerReferences", json::array({{{"apiVersion", kCdiApiVersion},
                                                 {"kind", "DataVolume"},
                                                 {"name", str(meta, {"name"})},
                                                 {"uid", str(meta, {"uid"})},
                                                 {"controller", true},
                                                 {"blockOwnerDeletion", true}}})}}},
             {"spec", spec}};
  return d;
}

json dataVolumeSucceeded(const json& dv) {
  const std::string name = str(dv, {"metadata", "name"});
  const bool clone = isCloneKind(dvSourceOf(dv).kind);
  return {{"phase", "Succeeded"},
          {"progress", "100.0%"},
          {"claimName", name},
          {"conditions", json::array({condition("Bound", "True", "Bound", "PVC " + name + " Bound"),
                                      condition("Ready", "True", "", ""),
                                      condition("Running", "False", "Completed",
                                                clone ? "Clone Complete" : "Import Complete")})}};
}

json boundClaimStatus(const json& claim) {
  json modes = field(claim, {"spec", "accessModes"});
  if (!modes.is_array()) modes = json::array({"ReadWriteOnce"});
  return {{"phase", "Bound"},
          {"accessModes", modes},
          {"capacity", {{"storage", str(claim, {"spec", "resources", "requests", "storage"})}}}};
}

// ---- snapshot-controller ------------------------------------------------------------

bool isDynamicSnapshot(const json& snapshot) {
  return !str(snapshot, {"spec", "source", "persistentVolumeClaimName"}).empty();
}

SnapshotDecision decideSnapshot(const json& snapshot, const std::vector<json>& classes,
                                const json* claim) {
  SnapshotDecision d;
  const std::string name = str(snapshot, {"metadata", "name"});
  const std::string pvc = str(snapshot, {"spec", "source", "persistentVolumeClaimName"});
  const std::string className = str(snapshot, {"spec", "volumeSnapshotClassName"});
  const bool bound = claim && str(*claim, {"status", "phase"}) == "Bound";
  const std::string notBound =
      "the PVC " + pvc + " is not yet bound to a PV, will not attempt to take a snapshot";

  if (className.empty()) {
    // SetDefaultSnapshotClass: the claim's volume gives the driver first.
    const std::string prefix = "Failed to set default snapshot class with error ";
    if (!claim) {
      d.error = prefix + "failed to retrieve PVC " + pvc + " from the lister: " +
                goQuote("persistentvolumeclaim " + goQuote(pvc) + " not found");
      return d;
    }
    if (!bound) {
      d.error = prefix + notBound;
      return d;
    }
    std::vector<const json*> defaults;
    for (const auto& c : classes)
      if (str(c, {"metadata", "annotations", kDefaultSnapshotClassAnnotation}) == "true" &&
          str(c, {"driver"}) == kSimCsiDriver)
        defaults.push_back(&c);
    if (defaults.empty()) {
      d.error = prefix + "cannot find default snapshot class";
      return d;
    }
    if (defaults.size() > 1) {
      d.error = prefix + std::to_string(defaults.size()) + " default snapshot classes were found";
      return d;
    }
    d.snapshotClass = *defaults.front();
    d.setDefaultClass = true;
  } else {
    // createSnapshotContent: the claim (its finalizer), then the inputs.
    const std::string prefix = "Failed to create snapshot content with error ";
    if (!claim) {
      d.error = prefix + "snapshot controller failed to update " + name +
                " on API server: cannot get claim from snapshot";
      return d;
    }
    for (const auto& c : classes)
      if (str(c, {"metadata", "name"}) == className) d.snapshotClass = c;
    const std::string inputs = "failed to get input parameters to create snapshot " + name + ": ";
    if (d.snapshotClass.is_null()) {
      d.error = prefix + inputs +
                goQuote("volumesnapshotclass.snapshot.storage.k8s.io " + goQuote(className) +
                        " not found");
      return d;
    }
    if (!bound) {
      d.error = prefix + inputs + goQuote(notBound);
      d.snapshotClass = nullptr;
      return d;
    }
  }
  d.restoreSize = str(*claim, {"status", "capacity", "storage"});
  if (d.restoreSize.empty())
    d.restoreSize = str(*claim, {"spec", "resources", "requests", "storage"});
  return d;
}

std::string contentNameFor(const std::string& snapshotUid) {
  return "snapcontent-" + snapshotUid;
}

json renderContent(const json& snapshot, const json& snapshotClass,
                   const std::string& volumeHandle) {
  const json& meta = field(snapshot, {"metadata"});
  std::string policy = str(snapshotClass, {"deletionPolicy"});
  if (policy.empty()) policy = "Delete";
  return {{"apiVersion", "snapshot.storage.k8s.io/v1"},
          {"kind", "VolumeSnapshotContent"},
          {"metadata", {{"name", contentNameFor(str(meta, {"uid"}))}}},
          {"spec",
           {{"volumeSnapshotRef",
             {{"kind", "VolumeSnapshot"},
              {"apiVersion", "snapshot.storage.k8s.io/v1"},
              {"namespace", str(meta, {"namespace"})},
              {"name", str(meta, {"name"})},
              {"uid", str(meta, {"uid"})},
              {"resourceVersion", str(meta, {"resourceVersion"})}}},
            {"driver", str(snapshotClass, {"driver"})},
            {"deletionPolicy", policy},
            {"volumeSnapshotClassName", str(snapshotClass, {"metadata", "name"})},
            {"source", {{"volumeHandle", volumeHandle}}}}}};
}

json contentStatus(bool ready, const std::string& restoreSize, const std::string& snapshotHandle,
                   std::int64_t creationUnixNanos) {
  json s = {{"readyToUse", ready},
            {"snapshotHandle", snapshotHandle},
            {"creationTime", creationUnixNanos}};
  if (auto b = quantityBytes(restoreSize)) s["restoreSize"] = *b;
  return s;
}

json snapshotStatus(const std::string& contentName, const std::string& creationTime, bool ready,
                    const std::string& restoreSize) {
  json s = {{"boundVolumeSnapshotContentName", contentName},
            {"creationTime", creationTime},
            {"readyToUse", ready},
            {"error", nullptr}};
  s["restoreSize"] = restoreSize.empty() ? json(nullptr) : json(restoreSize);
  return s;
}

json snapshotErrorStatus(const std::string& message, const std::string& time) {
  return {{"readyToUse", false}, {"error", {{"message", message}, {"time", time}}}};
}

// ---- KubeVirt's snapshot controller ---------------------------------------------------

std::string vmSnapshotContentName(const std::string& vmSnapshotUid) {
  return "vmsnapshot-content-" + vmSnapshotUid;
}

std::string vmVolumeSnapshotName(const std::string& vmSnapshotUid, const std::string& volume) {
  return "vmsnapshot-" + vmSnapshotUid + "-volume-" + volume;
}

std::vector<VolumeClaim> vmClaimVolumes(const json& vm) {
  std::vector<VolumeClaim> out;
  const json& vols = field(vm, {"spec", "template", "spec", "volumes"});
  if (!vols.is_array()) return out;
  for (const auto& v : vols) {
    std::string claim = str(v, {"persistentVolumeClaim", "claimName"});
    if (claim.empty()) claim = str(v, {"dataVolume", "name"});
    if (!claim.empty()) out.push_back({str(v, {"name"}), claim});
  }
  return out;
}

std::vector<std::string> vmVolumeNames(const json& vm) {
  std::vector<std::string> out;
  const json& vols = field(vm, {"spec", "template", "spec", "volumes"});
  if (vols.is_array())
    for (const auto& v : vols) out.push_back(str(v, {"name"}));
  return out;
}

VmSnapshotClassChoice vmSnapshotClass(const std::vector<json>& classes,
                                      const std::string& storageClass) {
  std::vector<const json*> matches;
  for (const auto& c : classes)
    if (str(c, {"driver"}) == kSimCsiDriver) matches.push_back(&c);
  VmSnapshotClassChoice out;
  if (matches.empty()) return out;
  if (matches.size() == 1) {
    out.name = str(*matches.front(), {"metadata", "name"});
    return out;
  }
  for (const json* c : matches) {
    // KubeVirt looks for the annotation, whatever its value.
    const json& a = field(*c, {"metadata", "annotations"});
    if (a.is_object() && a.contains(kDefaultSnapshotClassAnnotation)) {
      out.name = str(*c, {"metadata", "name"});
      return out;
    }
  }
  out.error =
      std::to_string(matches.size()) + " matching VolumeSnapshotClasses for " + storageClass;
  return out;
}

json renderVmSnapshotContent(const json& vmSnapshot, const json& vm,
                             const std::vector<VolumeClaim>& volumes,
                             const std::vector<json>& claims) {
  const json& meta = field(vmSnapshot, {"metadata"});
  const std::string uid = str(meta, {"uid"});
  json vmMeta = {{"name", str(vm, {"metadata", "name"})},
                 {"namespace", str(vm, {"metadata", "namespace"})},
                 {"uid", str(vm, {"metadata", "uid"})}};
  for (const char* k : {"labels", "annotations"})
    if (const json& m = field(vm, {"metadata", k}); m.is_object() && !m.empty()) vmMeta[k] = m;
  json backups = json::array();
  for (std::size_t i = 0; i < volumes.size() && i < claims.size(); ++i) {
    const json& c = claims[i];
    json cmeta = {{"name", str(c, {"metadata", "name"})},
                  {"namespace", str(c, {"metadata", "namespace"})}};
    for (const char* k : {"labels", "annotations"})
      if (const json& m = field(c, {"metadata", k}); m.is_object() && !m.empty()) cmeta[k] = m;
    backups.push_back(
        {{"volumeName", volumes[i].volume},
         {"persistentVolumeClaim", {{"metadata", cmeta}, {"spec", field(c, {"spec"})}}},
         {"volumeSnapshotName", vmVolumeSnapshotName(uid, volumes[i].volume)}});
  }
  json metadata = {{"name", vmSnapshotContentName(uid)}, {"namespace", str(meta, {"namespace"})}};
  if (str(vmSnapshot, {"spec", "deletionPolicy"}) == "Retain")  // KubeVirt: Delete or Retain
    metadata["annotations"] = {{kRetainAnnotation, "true"}};
  const json& vmSpec = field(vm, {"spec"});
  return {{"apiVersion", kVmSnapshotApiVersion},
          {"kind", "VirtualMachineSnapshotContent"},
          {"metadata", metadata},
          {"spec",
           {{"virtualMachineSnapshotName", str(meta, {"name"})},
            {"source",
             {{"virtualMachine",
               {{"metadata", vmMeta}, {"spec", vmSpec.is_object() ? vmSpec : json::object()}}}}},
            {"volumeBackups", backups}}}};
}

json renderVmVolumeSnapshot(const json& content, const json& backup,
                            const std::string& snapshotClass) {
  const json& vmMeta = field(content, {"spec", "source", "virtualMachine", "metadata"});
  return {{"apiVersion", "snapshot.storage.k8s.io/v1"},
          {"kind", "VolumeSnapshot"},
          {"metadata",
           {{"name", str(backup, {"volumeSnapshotName"})},
            {"namespace", str(content, {"metadata", "namespace"})},
            {"labels",
             {{"snapshot.kubevirt.io/source-vm-name", str(vmMeta, {"name"})},
              {"snapshot.kubevirt.io/source-vm-namespace", str(vmMeta, {"namespace"})}}},
            {"ownerReferences", json::array({{{"apiVersion", kVmSnapshotApiVersion},
                                              {"kind", "VirtualMachineSnapshotContent"},
                                              {"name", str(content, {"metadata", "name"})},
                                              {"uid", str(content, {"metadata", "uid"})},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"spec",
           {{"source",
             {{"persistentVolumeClaimName",
               str(backup, {"persistentVolumeClaim", "metadata", "name"})}}},
            {"volumeSnapshotClassName", snapshotClass}}}};
}

json vmSnapshotContentStatus(const json& content, const std::vector<json>& snapshots,
                             const json& current, const std::string& now) {
  const json& backups = field(content, {"spec", "volumeBackups"});
  const bool wasCreated = !str(current, {"creationTime"}).empty();
  json statuses = json::array();
  std::vector<std::string> deleted;
  std::string errorMessage;
  bool created = true, ready = true;
  if (backups.is_array()) {
    for (std::size_t i = 0; i < backups.size(); ++i) {
      const std::string name = str(backups[i], {"volumeSnapshotName"});
      const json& vs = i < snapshots.size() ? snapshots[i] : json();
      if (!vs.is_object()) {
        if (wasCreated) {
          deleted.push_back(name);
          continue;
        }
        statuses.push_back({{"volumeSnapshotName", name}});
        created = ready = false;
        continue;
      }
      json e = {{"volumeSnapshotName", name}};
      const json& st = field(vs, {"status"});
      const json& r = field(st, {"readyToUse"});
      if (r.is_boolean()) e["readyToUse"] = r;
      if (const std::string t = str(st, {"creationTime"}); !t.empty()) e["creationTime"] = t;
      if (const json& err = field(st, {"error"}); err.is_object()) e["error"] = err;
      if (!e.contains("creationTime")) created = false;
      if (!(r.is_boolean() && r.get<bool>())) ready = false;
      if (errorMessage.empty() && !str(st, {"error", "message"}).empty())
        errorMessage = "VolumeSnapshot " + name + " error: " + str(st, {"error", "message"});
      statuses.push_back(std::move(e));
    }
  }
  if (!deleted.empty()) {
    created = ready = false;
    std::string names;
    for (const auto& n : deleted) names += (names.empty() ? "" : ",") + n;
    errorMessage = "VolumeSnapshots (" + names + ") missing";
  }
  json s = {{"readyToUse", ready}, {"volumeSnapshotStatus", statuses}};
  if (wasCreated)
    s["creationTime"] = str(current, {"creationTime"});
  else
    s["creationTime"] = created ? json(now) : json(nullptr);
  if (!errorMessage.empty() && !ready) {
    const bool same = str(current, {"error", "message"}) == errorMessage;
    s["error"] = {{"message", errorMessage},
                  {"time", same ? str(current, {"error", "time"}) : now}};
  } else if (errorMessage.empty()) {
    s["error"] = nullptr;
  }
  return s;
}

namespace {

json snapCondition(const char* type, bool status, const std::string& reason) {
  return {{"type", type}, {"status", status ? "True" : "False"}, {"reason", reason}};
}

}  // namespace

json vmSnapshotStatus(const json& current, const VmSnapshotView& v) {
  json s = json::object();
  s["sourceUID"] = v.sourceExists ? json(v.sourceUid) : json(nullptr);
  bool ready = false;
  json creationTime = nullptr;
  json error = nullptr;
  const json& cs = field(v.content, {"status"});
  if (cs.is_object()) {
    s["virtualMachineSnapshotContentName"] = str(v.content, {"metadata", "name"});
    if (const std::string t = str(cs, {"creationTime"}); !t.empty()) creationTime = t;
    ready = field(cs, {"readyToUse"}).is_boolean() && cs["readyToUse"].get<bool>();
    if (cs.contains("error") && cs["error"].is_object()) error = cs["error"];
  }
  s["readyToUse"] = ready;
  s["creationTime"] = creationTime;
  s["error"] = error;
  json conds = json::array();
  const std::string phase = str(current, {"phase"});
  if (phase == "Failed" || (v.deadlineExceeded && phase != "Succeeded" && creationTime.is_null())) {
    s["phase"] = "Failed";
    conds.push_back(snapCondition("Progressing", false, "Operation failed"));
  } else if (phase == "Succeeded" || !creationTime.is_null()) {
    s["phase"] = "Succeeded";
    conds.push_back(snapCondition("Progressing", false, "Operation complete"));
    s["snapshotVolumes"] = {{"includedVolumes", v.includedVolumes},
                            {"excludedVolumes", v.excludedVolumes}};
  } else {
    s["phase"] = "InProgress";
    if (v.sourceExists) {
      conds.push_back(snapCondition(
          "Progressing", v.locked,
          v.locked ? "Source locked and operation in progress" : "Source not locked"));
      if (v.online) {
        // Online, and no guest agent is simulated: crash-consistent.
        s["indications"] = json::array({"NoGuestAgent", "Online"});
        s["sourceIndications"] = json::array(
            {{{"indication", "NoGuestAgent"},
              {"message",
               "Guest agent was not available. Snapshot is crash-consistent and may not be "
               "application-consistent."}},
             {{"indication", "Online"},
              {"message",
               "Snapshot taken while the VM was running. Consistency depends on guest-agent "
               "quiescing."}}});
      } else {
        s["indications"] = nullptr;
        s["sourceIndications"] = nullptr;
      }
    } else {
      conds.push_back(snapCondition("Progressing", false, "Source does not exist"));
    }
  }
  conds.push_back(snapCondition("Ready", ready, ready ? "Ready" : "Not ready"));
  if (!error.is_null()) conds[0] = snapCondition("Progressing", false, "In error state");
  if (s["phase"] == "Failed")
    conds.push_back(snapCondition("Failure", true, "snapshot deadline exceeded"));
  s["conditions"] = conds;
  return s;
}

std::optional<std::chrono::milliseconds> parseGoDuration(const std::string& in) {
  if (in.empty()) return std::chrono::minutes(5);
  double total = 0;
  std::size_t i = 0;
  while (i < in.size()) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(in.substr(i), &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used == 0 || in[i] == '-' || in[i] == '+') return std::nullopt;
    i += used;
    std::string unit;
    while (i < in.size() && std::isalpha(static_cast<unsigned char>(in[i]))) unit += in[i++];
    double ms = 0;
    if (unit == "h")
      ms = 3600e3;
    else if (unit == "m")
      ms = 60e3;
    else if (unit == "s")
      ms = 1e3;
    else if (unit == "ms")
      ms = 1;
    else if (unit == "us")
      ms = 1e-3;
    else if (unit == "ns")
      ms = 1e-6;
    else
      return std::nullopt;
    total += v * ms;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

}  // namespace kubec2::sim
