#include "reconcilers/common/conditions.h"

#include <algorithm>

namespace kubec2::reconcilers {

const v1::Condition* findCondition(const Conditions& conditions, const std::string& type) {
  if (!conditions) return nullptr;
  for (const auto& c : *conditions)
    if (c.type == type) return &c;
  return nullptr;
}

v1::Condition condition(const Conditions& previous, const std::string& type,
                        const std::string& status, const std::string& reason,
                        const std::string& message, std::int64_t generation,
                        const std::string& now) {
  v1::Condition c;
  c.type = type;
  c.status = status;
  c.reason = reason;
  c.message = message;
  c.observedGeneration = generation;
  c.lastTransitionTime = now;
  if (const v1::Condition* old = findCondition(previous, type);
      old != nullptr && old->status == status && old->reason == reason)
    c.lastTransitionTime = old->lastTransitionTime;
  return c;
}

void setCondition(Conditions& conditions, v1::Condition c) {
  if (!conditions) conditions = std::vector<v1::Condition>{};
  for (auto& old : *conditions)
    if (old.type == c.type) {
      old = std::move(c);
      return;
    }
  conditions->push_back(std::move(c));
}

void removeCondition(Conditions& conditions, const std::string& type) {
  if (!conditions) return;
  conditions->erase(std::remove_if(conditions->begin(), conditions->end(),
                                   [&](const v1::Condition& c) { return c.type == type; }),
                    conditions->end());
  if (conditions->empty()) conditions.reset();
}

}  // namespace kubec2::reconcilers
