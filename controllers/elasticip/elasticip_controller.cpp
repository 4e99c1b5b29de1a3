#include "controllers/elasticip/elasticip_controller.h"

#include "api/resources.h"
#include "api/v1alpha1/types.h"
#include "api/well_known.h"
#include "controllers/common/executor.h"
#include "reconcilers/elasticip/plan.h"
#include "runtime/controller.h"
#include "runtime/finalizers.h"
#include "runtime/log.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
namespace v1 = kubec2::api::v1alpha1;
namespace eipr = kubec2::reconcilers::elasticip;

class ElasticIPReconciler final : public kube::Reconciler {
 public:
  struct Sources {
    kube::Informer<v1::ElasticIP>& elasticIPs;
    kube::Informer<v1::Instance>& instances;
    kube::Informer<kube::RawObject>& services;
    kube::Informer<kube::RawObject>& slices;
  };

  ElasticIPReconciler(kube::Client& client, Sources s, kube::Recorder& events,
                      reconcilers::DiscoveryVersion discovery, std::string fieldManager)
      : s_(s),
        client_(client),
        discovery_(discovery),
        executor_(client, events, std::move(fieldManager)) {}

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const auto eip = fetchSubject(s_.elasticIPs, req, executor_);
    if (!eip) return kube::Result::done();

    eipr::ElasticIPObservation o;
    o.elasticIP = eip.get();
    o.now = ctx.clock.wallNow();
    o.discovery = discovery_;
    std::shared_ptr<const v1::Instance> instance;
    if (eip->spec.instanceRef)
      instance = s_.instances.store().get(req.namespace_, eip->spec.instanceRef->name);
    o.instance = instance.get();

    std::optional<json> service, slice;
    if (auto svc = s_.services.store().get(req.namespace_, req.name);
        svc && kube::isControlledBy(svc->metadata, eip->metadata.uid))
      service = svc->toJson();
    const auto serviceApplied = executor_.ledger().find(api::kServices, req.namespace_, req.name);
    o.serviceApplied = serviceApplied ? &*serviceApplied : nullptr;
    // The cache holds only Services labelled as an ElasticIP's: one of this
    // name it does not show may be a user's or a LoadBalancer's (also after
    // ours was deleted). Read it before writing, so it is never taken over.
    if (!service) {
      if (auto live = kube::getIfExists(client_, api::kServices, req.namespace_, req.name)) {
        if (kube::isControlledBy(*live, eip->metadata.uid))
          service = std::move(live);
        else
          o.serviceNameTaken = true;
      }
    }
    o.service = service ? &*service : nullptr;

    const std::string sliceName = eipr::endpointSliceName(req.name);
    if (auto sl = s_.slices.store().get(req.namespace_, sliceName);
        sl && kube::isControlledBy(sl->metadata, eip->metadata.uid))
      slice = sl->toJson();
    o.endpointSlice = slice ? &*slice : nullptr;
    const auto sliceApplied = executor_.ledger().find(
        reconcilers::endpointSlicesResource(discovery_), req.namespace_, sliceName);
    o.endpointSliceApplied = sliceApplied ? &*sliceApplied : nullptr;

    return executor_.execute({v1::ElasticIP::resource(), eip->toJson()}, eipr::planElasticIP(o),
                             ctx);
  }

 private:
  Sources s_;
  kube::Client& client_;
  reconcilers::DiscoveryVersion discovery_;
  PlanExecutor executor_;
};

}  // namespace

void addElasticIPController(kube::Manager& mgr, kube::Recorder& events,
                            const std::string& fieldManager) {
  auto& client = mgr.client();
  // An operator upgraded before its CRDs (Helm never upgrades crds/) must
  // still run every other controller: without the kind, this one is off.
  if (!client.isServed(api::kGroup, "v1alpha1", v1::ElasticIP::resource().resource)) {
    kube::log::warn(
        "ElasticIPs are not served: the ElasticIP controller is off until the operator restarts "
        "(apply crds/ first: docs/operations.md, Upgrades)");
    return;
  }
  const auto discovery = client.isServed("discovery.k8s.io", "v1", "endpointslices")
                             ? reconcilers::DiscoveryVersion::V1
                             : reconcilers::DiscoveryVersion::V1beta1;
  auto& eips = mgr.informer<v1::ElasticIP>(v1::ElasticIP::resource());
  auto& instances = mgr.informer<v1::Instance>(v1::Instance::resource());
  auto& services = mgr.informer<kube::RawObject>(
      api::kServices, {.labelSelector = std::string(api::kElasticIPLabel)});  // label exists
  auto& slices = mgr.informer<kube::RawObject>(
      reconcilers::endpointSlicesResource(discovery),
      {.labelSelector = std::string("endpointslice.kubernetes.io/managed-by=") +
                        api::kElasticIPEndpointSliceManagedByValue});

  // An Instance's change concerns the ElasticIPs that name it.
  auto elasticIPsOf = [&eips](const kube::ObjectMeta& inst) {
    std::vector<kube::Request> out;
    for (const auto& e : eips.store().byNamespace(inst.namespace_))
      if (e->spec.instanceRef && e->spec.instanceRef->name == inst.name)
        out.push_back({e->metadata.namespace_, e->metadata.name});
    return out;
  };

  kube::ControllerBuilder(mgr, "elasticip")
      .forResource(eips)
      .watches(instances, elasticIPsOf)
      .owns(services, "ElasticIP", api::kApiVersion)
      .owns(slices, "ElasticIP", api::kApiVersion)
      .complete(std::make_shared<ElasticIPReconciler>(
          mgr.controllerClient("elasticip"),
          ElasticIPReconciler::Sources{eips, instances, services, slices}, events, discovery,
          fieldManager));
}

}  // namespace kubec2::controllers
