#include "reconcilers/instance/virtual_machine.h"

#include <stdexcept>

#include "api/well_known.h"
#include "reconcilers/common/applied.h"
#include "reconcilers/instance/labels.h"
#include "reconcilers/instance/volumes.h"
#include "runtime/object.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

std::string gi(std::int64_t g) {
  return std::to_string(g) + "Gi";
}

json virtioDisk(const std::string& name) {
  return json{{"name", name}, {"disk", {{"bus", "virtio"}}}};
}

json dataVolumeTemplate(const PersistentVolume& v, const json& labels) {
  json storage = json::object();
  if (v.sizeGiB) storage["resources"] = {{"requests", {{"storage", gi(*v.sizeGiB)}}}};
  if (v.storageClassName) storage["storageClassName"] = *v.storageClassName;
  return json{{"metadata", {{"name", v.dataVolume}, {"labels", labels}}},
              {"spec", {{"source", v.source}, {"storage", std::move(storage)}}}};
}

}  // namespace

LaunchInputs LaunchInputs::of(const v1::LaunchSpec& launch, const InstanceTypeInfo& type) {
  LaunchInputs in;
  in.type = type;
  in.volumes = launch.volumes;
  if (launch.userData) in.userData = fingerprintOf(launch.userData->toJson());
  if (launch.keyPair) in.keyPair = fingerprintOf(launch.keyPair->toJson());
  return in;
}

json LaunchInputs::toJson() const {
  json j = {
      {"instanceType", {{"name", type.name}, {"vCPU", type.vCPU}, {"memoryMiB", type.memoryMiB}}}};
  if (type.gpus) j["instanceType"]["gpus"] = type.gpus;
  if (volumes) j["volumes"] = volumes->toJson();
  if (!userData.empty()) j["userData"] = userData;
  if (!keyPair.empty()) j["keyPair"] = keyPair;
  return j;
}

std::optional<LaunchInputs> LaunchInputs::fromJson(const json& j) {
  try {
    if (!j.is_object() || !j.contains("instanceType")) return std::nullopt;
    LaunchInputs in;
    const json& t = j.at("instanceType");
    in.type.name = t.at("name").get<std::string>();
    in.type.vCPU = t.at("vCPU").get<std::int64_t>();
    in.type.memoryMiB = t.at("memoryMiB").get<std::int64_t>();
    in.type.gpus = t.value("gpus", std::int64_t{0});
    if (j.contains("volumes")) in.volumes = v1::InstanceVolumes::fromJson(j.at("volumes"));
    in.userData = j.value("userData", "");
    in.keyPair = j.value("keyPair", "");
    return in;
  } catch (const std::exception&) {
    return std::nullopt;  // written by someone else, or an older operator
  }
}

std::optional<LaunchInputs> LaunchInputs::onVm(const json* vm) {
  const json* a = kube::jsonAt(vm, {"metadata", "annotations", api::kLaunchInputsAnnotation});
  if (a == nullptr || !a->is_string()) return std::nullopt;
  const json parsed = json::parse(a->get<std::string>(), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return fromJson(parsed);
}

std::vector<std::string> LaunchInputs::differences(const LaunchInputs& o) const {
  std::vector<std::string> out;
  if (type.name != o.type.name) out.push_back("instanceType");
  if (!(volumes == o.volumes)) out.push_back("volumes");
  if (userData != o.userData) out.push_back("userData");
  if (keyPair != o.keyPair) out.push_back("keyPair");
  return out;
}

const json* launchedCloudInit(const json* vm) {
  const json* volumes = kube::jsonAt(vm, {"spec", "template", "spec", "volumes"});
  if (volumes == nullptr || !volumes->is_array()) return nullptr;
  for (const auto& v : *volumes)
    if (v.value("name", "") == "cloudinit" && v.contains("cloudInitNoCloud")) return &v;
  return nullptr;
}

json renderVirtualMachine(const VmInputs& in) {
  if (in.instance == nullptr || in.launch == nullptr)
    throw std::invalid_argument("renderVirtualMachine: instance and launch are required");
  const v1::Instance& inst = *in.instance;
  v1::LaunchSpec launch = in.launch->spec;
  if (!launch.image) throw std::invalid_argument("renderVirtualMachine: the launch has no image");
  launch.volumes = in.inputs.volumes;  // the volumes in force
  const std::string& name = inst.metadata.name;
  const std::string& ns = inst.metadata.namespace_;
  const json labels = vmLabels(inst, launch);
  const json volumeLabels = instanceLabels(inst);
  InstanceVolumes persistent = volumesOf(name, ns, launch);
  for (PersistentVolume& v : persistent.volumes)
    if (const auto copy = in.restoredFrom.find(v.dataVolume);
        !v.snapshot.empty() && copy != in.restoredFrom.end())
      v.source["snapshot"]["name"] = copy->second;

  const std::string inputs = in.inputs.toJson().dump();
  json annotations = {{api::kLaunchInputsAnnotation, inputs}};
  if (in.launch->templateVersion)
    annotations[api::kLaunchTemplateVersionAnnotation] =
        std::to_string(*in.launch->templateVersion);
  if (const auto kept = persistent.keptOnTermination(); !kept.empty()) {
    std::string list;
    for (const auto& k : kept) list += (list.empty() ? "" : ",") + k;
    annotations[api::kKeptVolumesAnnotation] = list;
  }
  json metadata = {{"name", name},
                   {"namespace", ns},
                   {"labels", labels},
                   {"annotations", std::move(annotations)},
                   {"ownerReferences", json::array({instanceOwnerReference(inst)})}};

  // Disks: the root (a container disk, or its persistent volume), then the
  // extra volumes in order, then cloud-init.
  json dataVolumeTemplates = json::array();
  json volumes = json::array();
  json disks = json::array();
  json rootDisk = virtioDisk("root");
  rootDisk["bootOrder"] = 1;
  disks.push_back(rootDisk);
  if (launch.image->containerDisk)
    volumes.push_back(
        {{"name", "root"}, {"containerDisk", {{"image", *launch.image->containerDisk}}}});
  else if (persistent.volumes.empty() || !persistent.volumes.front().root)
    throw std::invalid_argument("renderVirtualMachine: the image sets no source");
  for (const PersistentVolume& v : persistent.volumes) {
    dataVolumeTemplates.push_back(dataVolumeTemplate(v, volumeLabels));
    if (!v.root) disks.push_back(virtioDisk(v.disk));
    volumes.push_back({{"name", v.disk}, {"dataVolume", {{"name", v.dataVolume}}}});
  }
  if (in.cloudInit) {
    disks.push_back(virtioDisk("cloudinit"));
    volumes.push_back(*in.cloudInit);
  }

  const std::string memory = std::to_string(in.inputs.type.memoryMiB) + "Mi";
  json domain = {
      {"cpu", {{"cores", in.inputs.type.vCPU}, {"sockets", 1}, {"threads", 1}}},
      {"memory", {{"guest", memory}}},
      {"resources", {{"requests", {{"memory", memory}}}}},
      {"devices",
       {{"disks", std::move(disks)},
        {"interfaces", json::array({{{"name", "default"}, {"masquerade", json::object()}}})}}}};
  // GPUs (type.gpus) are not rendered: KubeVirt's devices.gpus needs a
  // deviceName, the resource name the cluster's device plugin advertises
  // (nvidia.com/GA102GL_A10 and the like), which the catalog cannot know.

  json templSpec = {{"domain", std::move(domain)},
                    {"networks", json::array({{{"name", "default"}, {"pod", json::object()}}})},
                    {"volumes", std::move(volumes)}};
  if (launch.availabilityZone) {
    templSpec["affinity"] = {
        {"nodeAffinity",
         {{"requiredDuringSchedulingIgnoredDuringExecution",
           {{"nodeSelectorTerms",
             json::array(
                 {{{"matchExpressions",
                    json::array({{{"key", "topology.kubernetes.io/zone"},
                                  {"operator", "In"},
                                  {"values", json::array({*launch.availabilityZone})}}})}}})}}}}}};
  }

  // The inputs on the template too: KubeVirt copies them to the VMI, so
  // what a running instance started with is read from it.
  json templMeta = {{"labels", labels}, {"annotations", {{api::kLaunchInputsAnnotation, inputs}}}};
  json spec = {{"runStrategy",
                inst.spec.desiredState.value_or("running") == "stopped" ? "Halted" : "Always"},
               {"template", {{"metadata", std::move(templMeta)}, {"spec", std::move(templSpec)}}}};
  if (!dataVolumeTemplates.empty()) spec["dataVolumeTemplates"] = std::move(dataVolumeTemplates);

  return json{{"apiVersion", "kubevirt.io/v1"},
              {"kind", "VirtualMachine"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
}

}  // namespace kubec2::reconcilers
