// The finalizer flow as one helper, after kube-rs' finalizer(): while an
// object lives it is reconciled by `apply` (its finalizer added first when
// missing); once deleted, by `cleanup`, and the finalizer is removed only
// after cleanup says it is done. Both must be idempotent: either may run
// again after a crash at any point.
#pragma once

#include <functional>
#include <string>

#include "reconcilers/common/plan.h"
#include "runtime/object.h"

namespace kubec2::reconcilers {

struct CleanupResult {
  Plan plan;          // what cleaning up still needs
  bool done = false;  // nothing is left: the finalizer may go (after `plan`)
};

// - not deleting, no finalizer: AddFinalizer, then apply()'s plan;
// - not deleting, finalizer:    apply()'s plan;
// - deleting, finalizer:        cleanup()'s plan, then RemoveFinalizer when done;
// - deleting, no finalizer:     nothing (the object is going; not ours to hold).
Plan withFinalizer(const kube::ObjectMeta& meta, const std::string& finalizer,
                   const std::function<Plan()>& apply,
                   const std::function<CleanupResult()>& cleanup);

}  // namespace kubec2::reconcilers
