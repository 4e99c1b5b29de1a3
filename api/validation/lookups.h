// What the operator knows of the cluster beyond the object under review,
// for the admission rules that need it: warnings about values nothing
// knows yet (an instance type, a zone, a launch template), and the bounds
// of a ScalingGroup whose scale subresource is written. The rules stay pure
// functions of the review and these answers; the operator answers from its
// informer caches (controllers/webhook/lookups.h), tests from memory
// (StaticLookups below).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::api {

// How fresh an object read must be. Cached: the informer's copy, which may
// lag the API server by a watch event. Live: as the API server has it now
// (a GET), for a decision that must not rest on a stale copy.
enum class Freshness { Cached, Live };

// A stored object, or why there is none.
struct StoredObject {
  enum class State {
    Found,     // `object` holds it
    NotFound,  // it does not exist
    Unknown,   // it could not be read (cache not synced and the GET failed); `error` says why
  };
  State state = State::Unknown;
  nlohmann::json object;
  std::string error;
};

// Every answer may be "not known yet" (nullopt, or State::Unknown): while the
// operator starts, its caches are empty, and an empty cache must not be
// read as "nothing exists". Implementations are called from the webhook's
// request threads concurrently and must be thread-safe; they report a
// failed read as Unknown rather than throw (the rules would turn an
// exception into a refusal or no warning, but not say why).
class AdmissionLookups {
 public:
  virtual ~AdmissionLookups() = default;

  // The instance type names an Instance can launch with (the built-in
  // catalog with the instance type ConfigMap applied), grouped by family,
  // each family from its smallest size up (m5.large, m5.xlarge, ...).
  virtual std::optional<std::vector<std::string>> instanceTypes() const = 0;
  // The zones nodes carry in their topology.kubernetes.io/zone label,
  // sorted and unique (empty when no node has one).
  virtual std::optional<std::vector<std::string>> zones() const = 0;
  // Whether LaunchTemplate `name` exists in namespace `ns`.
  virtual std::optional<bool> launchTemplateExists(const std::string& ns,
                                                   const std::string& name) const = 0;
  // The stored ScalingGroup `ns`/`name` as JSON.
  virtual StoredObject scalingGroup(const std::string& ns, const std::string& name,
                                    Freshness freshness) const = 0;
};

// Knows nothing: no warnings are given, and a scale write cannot be checked.
const AdmissionLookups& noLookups();

// Answers from memory, for unit tests and tools. An unset optional is
// "not known yet".
class StaticLookups final : public AdmissionLookups {
 public:
  std::optional<std::vector<std::string>> instanceTypeNames;
  std::optional<std::vector<std::string>> nodeZones;
  std::optional<std::set<std::string>> launchTemplates;  // "namespace/name"
  // ScalingGroups by "namespace/name": `cached` answers Cached reads,
  // `live` Live ones (a group missing from `live` is read from `cached`),
  // so a test can put a cache behind the API server.
  std::map<std::string, nlohmann::json> cachedScalingGroups;
  std::map<std::string, nlohmann::json> liveScalingGroups;
  // Set: every ScalingGroup read is Unknown with this error.
  std::optional<std::string> scalingGroupError;
  // How many Live ScalingGroup reads were made (mutable: reads are const).
  mutable int liveReads = 0;

  std::optional<std::vector<std::string>> instanceTypes() const override {
    return instanceTypeNames;
  }
  std::optional<std::vector<std::string>> zones() const override { return nodeZones; }
  std::optional<bool> launchTemplateExists(const std::string& ns,
                                           const std::string& name) const override;
  StoredObject scalingGroup(const std::string& ns, const std::string& name,
                            Freshness freshness) const override;
};

}  // namespace kubec2::api
