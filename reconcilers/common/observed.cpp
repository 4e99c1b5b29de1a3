#include "reconcilers/common/observed.h"

#include "runtime/object.h"

namespace kubec2::reconcilers {
namespace {

std::string metadataString(const nlohmann::json* obj, const char* member) {
  const nlohmann::json* v = obj != nullptr ? kube::jsonAt(obj, {"metadata", member}) : nullptr;
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

std::string resourceVersionOf(const nlohmann::json* obj) {
  return metadataString(obj, "resourceVersion");
}

std::string uidOf(const nlohmann::json* obj) {
  return metadataString(obj, "uid");
}

bool conditionChanged(const Conditions& previous, const std::string& type,
                      const std::string& reason, const std::string& message) {
  const v1::Condition* c = findCondition(previous, type);
  return c == nullptr || c->reason != reason || c->message != message;
}

}  // namespace kubec2::reconcilers
