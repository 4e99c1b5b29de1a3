// Small readers of observed objects and conditions that every kind's plan
// needs: the metadata a write is guarded by, and whether a condition says
// something new (Events are recorded once per new message).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "reconcilers/common/conditions.h"

namespace kubec2::reconcilers {

// metadata.resourceVersion of an observed object; "" when `obj` is null or
// has none.
std::string resourceVersionOf(const nlohmann::json* obj);
// metadata.uid of an observed object; "" when `obj` is null or has none.
std::string uidOf(const nlohmann::json* obj);

// Whether the condition `type` in `previous` has another reason or message
// (or is absent): a Warning Event is due for the new one.
bool conditionChanged(const Conditions& previous, const std::string& type,
                      const std::string& reason, const std::string& message);

}  // namespace kubec2::reconcilers
