#include "reconcilers/launchtemplate/launch_template.h"

#include <string>

#include "reconcilers/common/conditions.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {

Plan planLaunchTemplate(const v1::LaunchTemplate& lt, std::chrono::system_clock::time_point now) {
  const v1::LaunchTemplateStatus old = lt.status.value_or(v1::LaunchTemplateStatus{});
  v1::LaunchTemplateStatus s = old;
  const auto latest = static_cast<std::int64_t>(lt.spec.versions.size());
  const std::int64_t def = lt.spec.defaultVersion.value_or(1);
  s.latestVersion = latest;
  s.defaultVersion = def;
  s.observedGeneration = lt.metadata.generation;
  const bool ok = def <= latest;
  s.conditions = std::vector<v1::Condition>{condition(
      old.conditions, "Ready", ok ? "True" : "False", ok ? "Published" : "DefaultVersionMissing",
      std::to_string(latest) + (latest == 1 ? " version" : " versions") + "; $Latest is version " +
          std::to_string(latest) + ", $Default is version " + std::to_string(def),
      lt.metadata.generation, kube::formatRfc3339(now))};
  Plan p;
  if (!(s == old)) p.add(PatchStatus{s.toJson()});
  return p;
}

}  // namespace kubec2::reconcilers
