// What the Snapshot controller and the Instance controller must agree on:
// the VolumeSnapshot that holds a Snapshot's copy of one volume.
#pragma once

#include <string>

namespace kubec2::api {

// SNAPSHOT.VOLUME, such as nightly.root: a volume name is a DNS label (no
// dot), so the last dot splits the name and no two Snapshots' copies share
// a name. At most 63 + 1 + 63 characters (both are limited by the webhook
// and the schema), within a VolumeSnapshot name's 253.
inline std::string volumeSnapshotName(const std::string& snapshot, const std::string& volume) {
  return snapshot + "." + volume;
}

}  // namespace kubec2::api
