// Status conditions (metav1.Condition's shape) for every kind, with one rule
// for lastTransitionTime.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

using Conditions = std::optional<std::vector<v1::Condition>>;

// The condition `type` with `status` (True, False, Unknown), `reason`
// (CamelCase) and `message`, observed at `generation`. lastTransitionTime is
// `now` unless `previous` holds the same type with the same status and
// reason, whose time is kept. Kubernetes' convention keys the time on
// status alone; kubec2 also keys it on reason, so that a move between two
// False reasons (ShuttingDown to Terminated) is timestamped: the
// terminated-instance retention counts from it (docs/instances.md).
v1::Condition condition(const Conditions& previous, const std::string& type,
                        const std::string& status, const std::string& reason,
                        const std::string& message, std::int64_t generation,
                        const std::string& now);

// The condition of `type` in `conditions`, if any.
const v1::Condition* findCondition(const Conditions& conditions, const std::string& type);

// `conditions` with `c` in place of the condition of its type (appended
// when new); order is otherwise kept.
void setCondition(Conditions& conditions, v1::Condition c);
// `conditions` without the condition of `type`; an empty list becomes absent.
void removeCondition(Conditions& conditions, const std::string& type);

}  // namespace kubec2::reconcilers
