// Whether an object still holds what the operator applied, decided without
// assuming the API server stores exactly what it was sent: a schema may
// prune fields, defaulting adds some, and values may be rewritten. The
// operator compares the object with its configuration minus what the server
// did not keep at its last apply (AppliedRecord, remembered by the
// executor), and treats an object that has not changed since its own apply
// as in force. So a field the server drops never causes a re-apply loop,
// and "restored after an outside change" is said only when the object did
// change after the operator's last write.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::reconcilers {

// FNV-1a (64 bits, hex) of the JSON text: stable across processes and
// builds, unlike std::hash.
std::string fingerprintOf(const nlohmann::json& j);

// Writes the configuration's fingerprint into its annotation
// compute.kubec2.io/applied (computed without that annotation): a field the
// operator no longer asks for changes the fingerprint, so the object is
// applied again and server-side apply removes the field (a subset check
// alone cannot see removals).
void stamp(nlohmann::json& config);
// The fingerprint an object carries; empty when none. `obj` may be null.
std::string stampOf(const nlohmann::json* obj);

// Whether every member of `want` is in `have` with the same value (lists:
// same length, element by element). Empty lists and maps and nulls in
// `want` match absent members (the API server drops them).
bool containedIn(const nlohmann::json& want, const nlohmann::json& have);

// The JSON pointers of `applied` that `stored` does not hold as applied:
// a member missing or different, or a list of another length or with a
// scalar element that differs (the list is named, not the element). Empty
// when containedIn(applied, stored).
std::vector<std::string> notKept(const nlohmann::json& applied, const nlohmann::json& stored);

// `config` without the members at `pointers` (as notKept() names them).
nlohmann::json without(nlohmann::json config, const std::vector<std::string>& pointers);

// "/spec/dataVolumeTemplates/0/metadata" -> "spec.dataVolumeTemplates[0].metadata"
std::string fieldPathOf(const std::string& pointer);

// What the executor remembers of its last apply of an object.
struct AppliedRecord {
  std::string stamp;                 // of the configuration applied
  std::string resourceVersion;       // of the stored object right after the apply
  std::vector<std::string> notKept;  // notKept(configuration, stored object)
  // The version the apply was decided on (ApplyObject::observedResourceVersion):
  // a cache still showing it has not caught up with the apply yet.
  std::string decidedFrom{};
};

enum class ApplyNeed {
  None,     // in force
  Create,   // the object does not exist
  Change,   // the configuration changed since it was applied (another fingerprint)
  Restore,  // it changed after the operator's last apply, in fields the server kept
  Recheck,  // it differs and there is no record of the last apply (the operator
            // restarted): applied again without blame, to learn what is kept
};

struct ApplyDecision {
  ApplyNeed need = ApplyNeed::None;
  std::vector<std::string> changed;  // Restore and Recheck: the fields that differ
  bool apply() const { return need != ApplyNeed::None; }
};

// `desired` is stamped; `observed` is the object from the cache (null when
// absent); `record` the last apply of this object, if remembered. An
// observed object at the version that apply produced, or still at the
// version it was decided on (the cache behind the operator's own write),
// is in force. An
// observed object at the version the last apply was decided on, or at the
// version it produced, is in force: the cache has not moved past the
// operator's own write, or nothing has written since.
ApplyDecision decideApply(const nlohmann::json& desired, const nlohmann::json* observed,
                          const AppliedRecord* record);

}  // namespace kubec2::reconcilers
