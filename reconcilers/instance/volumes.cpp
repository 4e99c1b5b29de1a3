#include "reconcilers/instance/volumes.h"

namespace kubec2::reconcilers {

using nlohmann::json;

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
      v.source = {{"blank", json::object()}};
      out.volumes.push_back(std::move(v));
    }
  return out;
}

}  // namespace kubec2::reconcilers
