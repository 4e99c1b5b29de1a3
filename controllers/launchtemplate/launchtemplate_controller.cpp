#include "controllers/launchtemplate/launchtemplate_controller.h"

#include "api/v1alpha1/types.h"
#include "controllers/common/executor.h"
#include "reconcilers/launchtemplate/launch_template.h"
#include "runtime/controller.h"

namespace kubec2::controllers {
namespace {

namespace v1 = kubec2::api::v1alpha1;

class LaunchTemplateReconciler final : public kube::Reconciler {
 public:
  LaunchTemplateReconciler(kube::Client& client, kube::Informer<v1::LaunchTemplate>& templates,
                           kube::Recorder& events, std::string fieldManager)
      : templates_(templates), executor_(client, events, std::move(fieldManager)) {}

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const auto lt = fetchSubject(templates_, req, executor_);
    if (!lt) return kube::Result::done();
    return executor_.execute({v1::LaunchTemplate::resource(), lt->toJson()},
                             reconcilers::planLaunchTemplate(*lt, ctx.clock.wallNow()), ctx);
  }

 private:
  kube::Informer<v1::LaunchTemplate>& templates_;
  PlanExecutor executor_;
};

}  // namespace

void addLaunchTemplateController(kube::Manager& mgr, kube::Recorder& events,
                                 const std::string& fieldManager) {
  auto& templates = mgr.informer<v1::LaunchTemplate>(v1::LaunchTemplate::resource());
  kube::ControllerBuilder(mgr, "launchtemplate")
      .forResource(templates)
      .complete(std::make_shared<LaunchTemplateReconciler>(mgr.client(), templates, events,
                                                           fieldManager));
}

}  // namespace kubec2::controllers
