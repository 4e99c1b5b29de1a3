#include "reconcilers/instance/volumes.h"

#include "api/snapshot.h"

namespace kubec2::reconcilers {

using nlohmann::json;

namespace {

// CDI restores a DataVolume from a VolumeSnapshot of its namespace.
json snapshotSource(const std::string& ns, const v1::SnapshotVolumeReference& ref,
                    const std::string& defaultVolume) {
  return {{"snapshot",
           {{"namespace", ns},
            {"name", api::volumeSnapshotName(ref.name, ref.volume.value_or(defaultVolume))}}}};
}

}  // namespace

std::vector<std::string> InstanceVolumes::keptOnTermination() const {
  std::vector<std::string> out;
  for (const auto& v : volumes)
    if (!v.deleteOnTermination) out.push_back(v.dataVolume);
  return out;
}

std::vector<std::string> InstanceVolumes::deletedWithInstance() const {
  std::vector<std::string> out;
  for (const auto& v : volumes)
    if (v.deleteOnTermination) out.push_back(v.dataVolume);
  return out;
}

InstanceVolumes volumesOf(const std::string& instanceName, const std::string& ns,
                          const v1::LaunchSpec& launch) {
  InstanceVolumes out;
  const std::optional<v1::RootVolume> root =
      launch.volumes ? launch.volumes->root : std::optional<v1::RootVolume>{};
  if (launch.image && !launch.image->containerDisk) {
    PersistentVolume r;
    r.dataVolume = instanceName + "-root";
    r.disk = "root";
    r.root = true;
    r.deleteOnTermination = !root || root->deleteOnTermination.value_or(true);
    r.storageClassName = root ? root->storageClassName : std::nullopt;
    const std::optional<std::int64_t> size = root ? root->sizeGiB : std::nullopt;
    const v1::ImageSource& image = *launch.image;
    if (image.http) {
      r.source = {{"http", {{"url", *image.http}}}};
      r.sizeGiB = size.value_or(kDefaultRootGiB);
    } else if (image.registry) {
      r.source = {{"registry", {{"url", *image.registry}}}};
      r.sizeGiB = size.value_or(kDefaultRootGiB);
    } else if (image.pvc) {
      r.source = {{"pvc", {{"namespace", ns}, {"name", image.pvc->name}}}};
      r.sizeGiB = size;  // CDI sizes a clone from its source claim
    } else if (image.snapshot) {
      r.source = snapshotSource(ns, *image.snapshot, "root");
      r.snapshot = image.snapshot->name;
      r.snapshotVolume = image.snapshot->volume.value_or("root");
      r.sizeGiB = size;  // CDI sizes a restore from the copy (restoreSize)
    }
    if (!r.source.is_null()) out.volumes.push_back(std::move(r));
  }
  if (launch.volumes && launch.volumes->extra)
    for (const v1::ExtraVolume& e : *launch.volumes->extra) {
      PersistentVolume v;
      v.dataVolume = instanceName + "-" + e.name;
      v.disk = e.name;
      v.deleteOnTermination = e.deleteOnTermination.value_or(false);
      v.sizeGiB = e.sizeGiB;
      v.storageClassName = e.storageClassName;
      v.source = e.fromSnapshot ? snapshotSource(ns, *e.fromSnapshot, e.name)
                                : json{{"blank", json::object()}};
      if (e.fromSnapshot) {
        v.snapshot = e.fromSnapshot->name;
        v.snapshotVolume = e.fromSnapshot->volume.value_or(e.name);
      }
      out.volumes.push_back(std::move(v));
    }
  return out;
}

}  // namespace kubec2::reconcilers
