#!/usr/bin/env python3
"""Writes the CRDs for snapshots and DataVolumes that the tests and the demo
install on a control plane without the projects that own them:

  external-snapshotter/crds/snapshot.storage.k8s.io_*.json   (VolumeSnapshot,
      VolumeSnapshotClass, VolumeSnapshotContent; snapshot.storage.k8s.io/v1)
  kubevirt/crds/snapshot.kubevirt.io_*.json                 (VirtualMachineSnapshot,
      VirtualMachineSnapshotContent, VirtualMachineRestore; snapshot.kubevirt.io/v1beta1)
  cdi/crds/cdi.kubevirt.io_datavolumes.json                 (DataVolume; cdi.kubevirt.io/v1beta1)

The schemas below are transcribed by hand from the upstream definitions named
in each function (see the READMEs beside the files for repositories, paths
and commits). The large subtrees that KubeVirt's VirtualMachine CRD already
holds are taken from it rather than retyped: the VirtualMachine spec and
status (a VirtualMachineSnapshotContent embeds a whole VM), core/v1
PersistentVolumeClaimSpec and CDI's DataVolumeSpec (both under
spec.dataVolumeTemplates[] of kubevirt.io_virtualmachines.json).

Conventions, as in third_party/kubevirt/crds: structural schemas, every
property typed; a nested `metadata` keeps unknown fields (it is an
ObjectMeta the schema does not spell out); quantities are int-or-string.
Descriptions are dropped to keep the files small. Upstream's CEL rules
(x-kubernetes-validations) are left out: the test control plane is
Kubernetes 1.20, which does not know them. KubeVirt marks its snapshot and
restore `status` objects nullable; not here: a 1.20 API server publishes a
nullable object to OpenAPI v2 without its properties, so kubectl's
client-side strict validation (the only strict validation 1.20 has) would
not look inside status. KubeVirt never writes `status: null` (an omitempty
pointer); 1.20 prunes a null it is sent rather than storing it.

Run from anywhere: python3 third_party/derive_snapshot_crds.py
"""
import copy
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
VM_CRD = HERE / "kubevirt/crds/kubevirt.io_virtualmachines.json"

# ------------------------------------------------------------------ helpers

STRING = {"type": "string"}
BOOL = {"type": "boolean"}
INT32 = {"type": "integer", "format": "int32"}
INT64 = {"type": "integer", "format": "int64"}
TIME = {"type": "string", "format": "date-time"}  # metav1.Time
NULLABLE_TIME = dict(TIME, nullable=True)  # a +nullable metav1.Time
DURATION = STRING  # metav1.Duration: "5m0s"
STRING_MAP = {"type": "object", "additionalProperties": STRING}
# An ObjectMeta inside the object (not the object's own metadata).
NESTED_METADATA = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def obj(properties, required=None, **extra):
    out = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out.update(extra)
    return out


def array(items, list_type=None):
    out = {"type": "array", "items": items}
    if list_type:
        out["x-kubernetes-list-type"] = list_type
    return out


def without_descriptions(schema):
    """A copy of a schema without `description`s (property names kept)."""
    if isinstance(schema, list):
        return [without_descriptions(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "properties":
            out[key] = {name: without_descriptions(s) for name, s in value.items()}
        else:
            out[key] = without_descriptions(value)
    return out


def crd(group, kind, plural, singular, scope, version, schema, short_names=(),
        categories=(), columns=(), status=True, annotations=None):
    """A CustomResourceDefinition with one served and stored version."""
    names = {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": singular}
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    ver = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    if columns:
        ver["additionalPrinterColumns"] = list(columns)
    if status:
        ver["subresources"] = {"status": {}}
    metadata = {"name": f"{plural}.{group}"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {"group": group, "names": names, "scope": scope, "versions": [ver]},
    }


def column(name, type_, path, description=None):
    out = {"name": name, "type": type_, "jsonPath": path}
    if description:
        out["description"] = description
    return out


def top_level(spec, status=None, required=("spec",), **extra):
    props = {"apiVersion": STRING, "kind": STRING, "metadata": {"type": "object"}}
    if spec is not None:
        props["spec"] = spec
    if status is not None:
        props["status"] = status
    props.update(extra)
    return obj(props, list(required) if required else None)


def write(relpath, doc):
    path = HERE / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = without_descriptions_in_schemas(doc)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")


def without_descriptions_in_schemas(doc):
    for ver in doc["spec"]["versions"]:
        ver["schema"]["openAPIV3Schema"] = without_descriptions(ver["schema"]["openAPIV3Schema"])
    return doc


# ------------------------------------------- subtrees of the VirtualMachine CRD

_vm = json.loads(VM_CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
VM_SPEC = copy.deepcopy(_vm["properties"]["spec"])  # kubevirt v1.VirtualMachineSpec
VM_STATUS = copy.deepcopy(_vm["properties"]["status"])  # kubevirt v1.VirtualMachineStatus
_dvt = _vm["properties"]["spec"]["properties"]["dataVolumeTemplates"]["items"]
DATA_VOLUME_SPEC = copy.deepcopy(_dvt["properties"]["spec"])  # CDI v1beta1.DataVolumeSpec
PVC_SPEC = copy.deepcopy(DATA_VOLUME_SPEC["properties"]["pvc"])  # core/v1 PersistentVolumeClaimSpec

# core/v1 TypedLocalObjectReference
TYPED_LOCAL_OBJECT_REFERENCE = obj(
    {"apiGroup": STRING, "kind": STRING, "name": STRING},
    ["kind", "name"],
    **{"x-kubernetes-map-type": "atomic"},
)

# --------------------------------------------- external-snapshotter (CSI) v1

# kubernetes-csi/external-snapshotter client/config/crd/*.yaml (already CRDs);
# VolumeSnapshotStatus.volumeGroupSnapshotName from client/apis/volumesnapshot/v1/types.go.
SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
SNAPSHOT_ERROR = obj({"message": STRING, "time": TIME})


def volume_snapshot():
    source = obj({"persistentVolumeClaimName": STRING, "volumeSnapshotContentName": STRING})
    # Exactly one of them (upstream v8 says so in CEL, v4-v7 with this oneOf).
    source["oneOf"] = [{"required": ["persistentVolumeClaimName"]},
                       {"required": ["volumeSnapshotContentName"]}]
    spec = obj({"source": source, "volumeSnapshotClassName": STRING}, ["source"])
    restore_size = {
        "type": "string",
        "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
        "x-kubernetes-int-or-string": True,
    }
    status = obj({
        "boundVolumeSnapshotContentName": STRING,
        "creationTime": TIME,
        "error": SNAPSHOT_ERROR,
        "readyToUse": BOOL,
        "restoreSize": restore_size,
        "volumeGroupSnapshotName": STRING,
    })
    return crd(SNAPSHOT_GROUP, "VolumeSnapshot", "volumesnapshots", "volumesnapshot",
               "Namespaced", "v1", top_level(spec, status), short_names=["vs"],
               annotations={"api-approved.kubernetes.io":
                            "https://github.com/kubernetes-csi/external-snapshotter/pull/814"},
               columns=[
                   column("ReadyToUse", "boolean", ".status.readyToUse",
                          "Indicates if the snapshot is ready to be used to restore a volume."),
                   column("SourcePVC", "string", ".spec.source.persistentVolumeClaimName",
                          "If a new snapshot needs to be created, this contains the name of the "
                          "source PVC from which this snapshot was (or will be) created."),
                   column("SourceSnapshotContent", "string", ".spec.source.volumeSnapshotContentName",
                          "If a snapshot already exists, this contains the name of the existing "
                          "VolumeSnapshotContent object representing the existing snapshot."),
                   column("RestoreSize", "string", ".status.restoreSize",
                          "Represents the minimum size of volume required to rehydrate from this snapshot."),
                   column("SnapshotClass", "string", ".spec.volumeSnapshotClassName",
                          "The name of the VolumeSnapshotClass requested by the VolumeSnapshot."),
                   column("SnapshotContent", "string", ".status.boundVolumeSnapshotContentName",
                          "Name of the VolumeSnapshotContent object to which the VolumeSnapshot "
                          "object intends to bind to."),
                   column("CreationTime", "date", ".status.creationTime",
                          "Timestamp when the point-in-time snapshot was taken by the underlying storage system."),
                   column("Age", "date", ".metadata.creationTimestamp"),
               ])


def volume_snapshot_class():
    topology_term = obj({
        "matchLabelExpressions": array(
            obj({"key": STRING, "values": array(STRING, "atomic")}, ["key", "values"]), "atomic"),
    }, **{"x-kubernetes-map-type": "atomic"})
    schema = top_level(None, required=("deletionPolicy", "driver"),
                       allowedTopologies=array(topology_term, "atomic"),
                       deletionPolicy={"type": "string", "enum": ["Delete", "Retain"]},
                       driver=STRING,
                       parameters=STRING_MAP)
    return crd(SNAPSHOT_GROUP, "VolumeSnapshotClass", "volumesnapshotclasses", "volumesnapshotclass",
               "Cluster", "v1", schema, short_names=["vsclass", "vsclasses"], status=False,
               annotations={"api-approved.kubernetes.io":
                            "https://github.com/kubernetes-csi/external-snapshotter/pull/814"},
               columns=[
                   column("Driver", "string", ".driver"),
                   column("DeletionPolicy", "string", ".deletionPolicy",
                          "Determines whether a VolumeSnapshotContent created through the "
                          "VolumeSnapshotClass should be deleted when its bound VolumeSnapshot is deleted."),
                   column("Age", "date", ".metadata.creationTimestamp"),
               ])


def volume_snapshot_content():
    object_reference = obj({
        "apiVersion": STRING, "fieldPath": STRING, "kind": STRING, "name": STRING,
        "namespace": STRING, "resourceVersion": STRING, "uid": STRING,
    }, **{"x-kubernetes-map-type": "atomic"})
    spec = obj({
        "deletionPolicy": {"type": "string", "enum": ["Delete", "Retain"]},
        "driver": STRING,
        "source": obj({"snapshotHandle": STRING, "volumeHandle": STRING}),
        "sourceVolumeMode": STRING,
        "volumeSnapshotClassName": STRING,
        "volumeSnapshotRef": object_reference,
    }, ["deletionPolicy", "driver", "source", "volumeSnapshotRef"])
    status = obj({
        "creationTime": INT64,  # Unix nanoseconds, not a timestamp
        "error": SNAPSHOT_ERROR,
        "readyToUse": BOOL,
        "restoreSize": dict(INT64, minimum=0),  # bytes
        "snapshotHandle": STRING,
        "volumeGroupSnapshotHandle": STRING,
    })
    return crd(SNAPSHOT_GROUP, "VolumeSnapshotContent", "volumesnapshotcontents",
               "volumesnapshotcontent", "Cluster", "v1", top_level(spec, status),
               short_names=["vsc", "vscs"],
               annotations={"api-approved.kubernetes.io":
                            "https://github.com/kubernetes-csi/external-snapshotter/pull/955"},
               columns=[
                   column("ReadyToUse", "boolean", ".status.readyToUse",
                          "Indicates if the snapshot is ready to be used to restore a volume."),
                   column("RestoreSize", "integer", ".status.restoreSize",
                          "Represents the complete size of the snapshot in bytes"),
                   column("DeletionPolicy", "string", ".spec.deletionPolicy",
                          "Determines whether this VolumeSnapshotContent and its physical snapshot on "
                          "the underlying storage system should be deleted when its bound VolumeSnapshot is deleted."),
                   column("Driver", "string", ".spec.driver",
                          "Name of the CSI driver used to create the physical snapshot on the underlying storage system."),
                   column("VolumeSnapshotClass", "string", ".spec.volumeSnapshotClassName",
                          "Name of the VolumeSnapshotClass to which this snapshot belongs."),
                   column("VolumeSnapshot", "string", ".spec.volumeSnapshotRef.name",
                          "Name of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound."),
                   column("VolumeSnapshotNamespace", "string", ".spec.volumeSnapshotRef.namespace",
                          "Namespace of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound."),
                   column("Age", "date", ".metadata.creationTimestamp"),
               ])


# ---------------------------------------------------- KubeVirt snapshot.kubevirt.io

# kubevirt/kubevirt api/openapi-spec/swagger.json, definitions v1beta1.*;
# nullable / preserve-unknown-fields markers as in
# staging/src/kubevirt.io/api/snapshot/v1beta1/types.go; names, short names
# and columns as pkg/virt-operator/resource/generate/components/crds.go.
KUBEVIRT_SNAPSHOT_GROUP = "snapshot.kubevirt.io"

# v1beta1.Error
KV_ERROR = obj({"message": STRING, "time": TIME})
# v1beta1.Condition
KV_CONDITION = obj({
    "lastProbeTime": NULLABLE_TIME,
    "lastTransitionTime": NULLABLE_TIME,
    "message": STRING,
    "reason": STRING,
    "status": STRING,
    "type": STRING,
}, ["type", "status"])


def virtual_machine_snapshot():
    spec = obj({  # v1beta1.VirtualMachineSnapshotSpec
        "deletionPolicy": STRING,
        "failureDeadline": DURATION,
        "source": TYPED_LOCAL_OBJECT_REFERENCE,
    }, ["source"])
    status = obj({  # v1beta1.VirtualMachineSnapshotStatus
        "conditions": array(KV_CONDITION, "atomic"),
        "creationTime": NULLABLE_TIME,
        "error": KV_ERROR,
        "indications": array(STRING, "set"),
        "phase": STRING,
        "readyToUse": BOOL,
        "snapshotVolumes": obj({  # v1beta1.SnapshotVolumesLists
            "excludedVolumes": array(STRING, "set"),
            "includedVolumes": array(STRING, "set"),
        }),
        "sourceIndications": array(  # v1beta1.SourceIndication
            obj({"indication": STRING, "message": STRING}, ["indication", "message"]), "atomic"),
        "sourceUID": STRING,
        "virtualMachineSnapshotContentName": STRING,
    })
    return crd(KUBEVIRT_SNAPSHOT_GROUP, "VirtualMachineSnapshot", "virtualmachinesnapshots",
               "virtualmachinesnapshot", "Namespaced", "v1beta1", top_level(spec, status),
               short_names=["vmsnapshot", "vmsnapshots"], categories=["all"],
               columns=[
                   column("SourceKind", "string", ".spec.source.kind"),
                   column("SourceName", "string", ".spec.source.name"),
                   column("Phase", "string", ".status.phase"),
                   column("ReadyToUse", "boolean", ".status.readyToUse"),
                   column("CreationTime", "date", ".status.creationTime"),
                   column("Error", "string", ".status.error.message"),
               ])


def virtual_machine_snapshot_content():
    virtual_machine = obj({  # v1beta1.VirtualMachine: a copy of the VM at snapshot time
        "metadata": dict(NESTED_METADATA, nullable=True),
        "spec": VM_SPEC,
        "status": VM_STATUS,
    })
    volume_backup = obj({  # v1beta1.VolumeBackup
        "persistentVolumeClaim": obj({  # v1beta1.PersistentVolumeClaim
            "metadata": NESTED_METADATA,
            "spec": PVC_SPEC,
        }),
        "volumeName": STRING,
        "volumeSnapshotName": STRING,
    }, ["volumeName", "persistentVolumeClaim"])
    spec = obj({  # v1beta1.VirtualMachineSnapshotContentSpec
        "source": obj({"virtualMachine": virtual_machine}),  # v1beta1.SourceSpec
        "virtualMachineSnapshotName": STRING,
        "volumeBackups": array(volume_backup, "atomic"),
    }, ["source"])
    volume_snapshot_status = obj({  # v1beta1.VolumeSnapshotStatus
        "creationTime": NULLABLE_TIME,
        "error": KV_ERROR,
        "readyToUse": BOOL,
        "volumeSnapshotName": STRING,
    }, ["volumeSnapshotName"])
    status = obj({  # v1beta1.VirtualMachineSnapshotContentStatus
        "creationTime": NULLABLE_TIME,
        "error": KV_ERROR,
        "readyToUse": BOOL,
        "volumeSnapshotStatus": array(volume_snapshot_status, "atomic"),
    })
    return crd(KUBEVIRT_SNAPSHOT_GROUP, "VirtualMachineSnapshotContent",
               "virtualmachinesnapshotcontents", "virtualmachinesnapshotcontent", "Namespaced",
               "v1beta1", top_level(spec, status),
               short_names=["vmsnapshotcontent", "vmsnapshotcontents"], categories=["all"],
               columns=[
                   column("ReadyToUse", "boolean", ".status.readyToUse"),
                   column("CreationTime", "date", ".status.creationTime"),
                   column("Error", "string", ".status.error.message"),
               ])


def virtual_machine_restore():
    spec = obj({  # v1beta1.VirtualMachineRestoreSpec
        "patches": array(STRING, "atomic"),
        "target": TYPED_LOCAL_OBJECT_REFERENCE,
        "targetReadinessPolicy": STRING,
        "virtualMachineSnapshotName": STRING,
        "volumeOwnershipPolicy": STRING,
        "volumeRestoreOverrides": array(obj({  # v1beta1.VolumeRestoreOverride
            "annotations": STRING_MAP,
            "labels": STRING_MAP,
            "restoreName": STRING,
            "volumeName": STRING,
        }), "atomic"),
        "volumeRestorePolicy": STRING,
    }, ["target", "virtualMachineSnapshotName"])
    status = obj({  # v1beta1.VirtualMachineRestoreStatus
        "complete": BOOL,
        "conditions": array(KV_CONDITION, "atomic"),
        "deletedDataVolumes": array(STRING, "set"),
        "restoreTime": NULLABLE_TIME,
        "restores": array(obj({  # v1beta1.VolumeRestore
            "dataVolumeName": STRING,
            "persistentVolumeClaim": STRING,
            "volumeName": STRING,
            "volumeSnapshotName": STRING,
        }, ["volumeName", "persistentVolumeClaim", "volumeSnapshotName"]), "atomic"),
    })
    return crd(KUBEVIRT_SNAPSHOT_GROUP, "VirtualMachineRestore", "virtualmachinerestores",
               "virtualmachinerestore", "Namespaced", "v1beta1", top_level(spec, status),
               short_names=["vmrestore", "vmrestores"], categories=["all"],
               columns=[
                   column("TargetKind", "string", ".spec.target.kind"),
                   column("TargetName", "string", ".spec.target.name"),
                   column("Complete", "boolean", ".status.complete"),
                   column("RestoreTime", "date", ".status.restoreTime"),
                   column("Error", "string", ".status.error.message"),
               ])


# ------------------------------------------------------------- CDI cdi.kubevirt.io

# kubevirt/containerized-data-importer api/openapi-spec/swagger.json,
# v1beta1.DataVolume / DataVolumeStatus / DataVolumeCondition; names, short
# names and columns from the kubebuilder markers in
# staging/src/kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1/types.go.
def data_volume():
    condition = obj({  # v1beta1.DataVolumeCondition
        "lastHeartbeatTime": TIME,
        "lastTransitionTime": TIME,
        "message": STRING,
        "reason": STRING,
        "status": STRING,
        "type": STRING,
    }, ["type", "status"])
    status = obj({  # v1beta1.DataVolumeStatus
        "claimName": STRING,
        "conditions": array(condition),
        "phase": STRING,
        "progress": STRING,
        "restartCount": INT32,
    })
    return crd("cdi.kubevirt.io", "DataVolume", "datavolumes", "datavolume", "Namespaced",
               "v1beta1", top_level(DATA_VOLUME_SPEC, status),
               short_names=["dv", "dvs"], categories=["all"],
               columns=[
                   column("Phase", "string", ".status.phase", "The phase the data volume is in"),
                   column("Progress", "string", ".status.progress",
                          "Transfer progress in percentage if known, N/A otherwise"),
                   column("Restarts", "integer", ".status.restartCount",
                          "The number of times the transfer has been restarted."),
                   column("Age", "date", ".metadata.creationTimestamp"),
               ])


if __name__ == "__main__":
    write("external-snapshotter/crds/snapshot.storage.k8s.io_volumesnapshots.json", volume_snapshot())
    write("external-snapshotter/crds/snapshot.storage.k8s.io_volumesnapshotclasses.json",
          volume_snapshot_class())
    write("external-snapshotter/crds/snapshot.storage.k8s.io_volumesnapshotcontents.json",
          volume_snapshot_content())
    write("kubevirt/crds/snapshot.kubevirt.io_virtualmachinesnapshots.json", virtual_machine_snapshot())
    write("kubevirt/crds/snapshot.kubevirt.io_virtualmachinesnapshotcontents.json",
          virtual_machine_snapshot_content())
    write("kubevirt/crds/snapshot.kubevirt.io_virtualmachinerestores.json", virtual_machine_restore())
    write("cdi/crds/cdi.kubevirt.io_datavolumes.json", data_volume())
