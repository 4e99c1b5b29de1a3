// An instance's persistent volumes and what happens to each when it
// terminates, decided once, on input with EC2's defaults applied, for every
// path that needs it (rendering the VM, releasing kept volumes, waiting for
// the others to go).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

// Absent volumes.root.sizeGiB for http and registry images (a pvc clone
// takes its source's size).
inline constexpr std::int64_t kDefaultRootGiB = 10;

struct PersistentVolume {
  std::string dataVolume;  // INSTANCE-root, INSTANCE-VOLUME: the DataVolume and its claim
  std::string disk;        // root, or the extra volume's name
  bool root = false;
  bool deleteOnTermination = false;
  std::optional<std::int64_t> sizeGiB;
  std::optional<std::string> storageClassName;
  nlohmann::json source;  // the CDI DataVolume source: http, registry, pvc, snapshot or blank
  // Restored from a Snapshot (compute.kubec2.io): its name and the volume
  // copied; empty otherwise.
  std::string snapshot;
  std::string snapshotVolume;
};

struct InstanceVolumes {
  std::vector<PersistentVolume> volumes;  // the root (when persistent) first, then extras in order

  // DataVolumes kept when the instance terminates (released from the VM).
  std::vector<std::string> keptOnTermination() const;
  // Claims that go with the instance: it stays shutting-down until they are gone.
  std::vector<std::string> deletedWithInstance() const;
};

// EC2's defaults: the root volume of an http, registry, pvc or snapshot image is
// persistent and deleted on termination unless volumes.root.deleteOnTermination
// is false (also when spec.volumes is absent); a containerDisk root is
// ephemeral (no volume); extra volumes are kept unless their
// deleteOnTermination is true; the root is 10 GiB unless sized (pvc: the
// source's size; snapshot: the copy's). A volume from a Snapshot reads
// the VolumeSnapshot api::volumeSnapshotName() names.
InstanceVolumes volumesOf(const std::string& instanceName, const std::string& ns,
                          const v1::LaunchSpec& launch);

}  // namespace kubec2::reconcilers
