#include "reconcilers/common/finalizer.h"

#include "runtime/finalizers.h"

namespace kubec2::reconcilers {

Plan withFinalizer(const kube::ObjectMeta& meta, const std::string& finalizer,
                   const std::function<Plan()>& apply,
                   const std::function<CleanupResult()>& cleanup) {
  const bool has = kube::hasFinalizer(meta, finalizer);
  if (meta.deletionTimestamp) {
    if (!has) return {};
    CleanupResult c = cleanup();
    if (c.done) c.plan.add(RemoveFinalizer{finalizer});
    return std::move(c.plan);
  }
  Plan p;
  if (!has) p.add(AddFinalizer{finalizer});
  Plan rest = apply();
  for (auto& a : rest.actions) p.add(std::move(a));
  p.requeueAfter = rest.requeueAfter;
  p.retryWithBackoff = rest.retryWithBackoff;
  return p;
}

}  // namespace kubec2::reconcilers
