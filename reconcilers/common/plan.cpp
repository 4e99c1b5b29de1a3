#include "reconcilers/common/plan.h"

namespace kubec2::reconcilers {

const ApplyObject* Plan::applyOf(const std::string& kind, const std::string& name) const {
  for (const auto& a : actions)
    if (const auto* ap = std::get_if<ApplyObject>(&a))
      if (ap->object.value("kind", "") == kind &&
          ap->object.value("metadata", nlohmann::json::object()).value("name", "") == name)
        return ap;
  return nullptr;
}

}  // namespace kubec2::reconcilers
