#include "controllers/instance/instance_controller.h"

#include "api/resources.h"
#include "api/v1alpha1/types.h"
#include "api/well_known.h"
#include "controllers/common/executor.h"
#include "controllers/common/instance_type_catalog.h"
#include "reconcilers/instance/cloud_init.h"
#include "reconcilers/instance/network_policy.h"
#include "reconcilers/instance/plan.h"
#include "runtime/base64.h"
#include "runtime/controller.h"
#include "runtime/log.h"
#include "runtime/optional_api.h"
#include "runtime/timefmt.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;
namespace rec = kubec2::reconcilers;

// A Secret's data, decoded; nullopt when it does not exist. A value that is
// not base64 reads as empty (the server never stores one).
rec::SecretData readSecret(kube::Client& client, const std::string& ns, const std::string& name) {
  const auto secret = kube::getIfExists(client, api::kSecrets, ns, name);
  if (!secret) return std::nullopt;
  std::map<std::string, std::string> data;
  if (const auto d = secret->find("data"); d != secret->end() && d->is_object())
    for (const auto& [k, v] : d->items())
      if (v.is_string()) data[k] = kube::base64Decode(v.get<std::string>()).value_or("");
  return data;
}

std::optional<json> cached(kube::Informer<kube::RawObject>& inf, const std::string& ns,
                           const std::string& name) {
  if (auto p = inf.store().get(ns, name)) return p->toJson();
  return std::nullopt;
}

class InstanceReconciler final : public kube::Reconciler {
 public:
  struct Sources {
    kube::Informer<v1::Instance>& instances;
    kube::Informer<v1::LaunchTemplate>& templates;
    kube::Informer<kube::RawObject>& nodes;
    kube::Informer<kube::RawObject>& policies;
    std::shared_ptr<kube::OptionalApi> kubevirt;
    kube::Informer<kube::RawObject>& vms;
    kube::Informer<kube::RawObject>& vmis;
    std::shared_ptr<InstanceTypeCatalogSource> catalog;
    std::shared_ptr<kube::Channel> kubevirtFound;  // kept alive with the controller
  };

  InstanceReconciler(kube::Client& client, Sources sources, kube::Recorder& events,
                     InstanceControllerOptions opts)
      : client_(client),
        s_(sources),
        opts_(std::move(opts)),
        executor_(client, events, opts_.fieldManager) {}

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const auto inst = fetchSubject(s_.instances, req, executor_);
    if (!inst) {
      forgetApplies(req);
      return kube::Result::done();
    }

    const auto kv = s_.kubevirt->state();
    if (kv == kube::OptionalApi::State::Unknown) return kube::Result::after(1s);
    if (kv == kube::OptionalApi::State::Served && !s_.kubevirt->synced())
      return kube::Result::after(1s);

    rec::InstanceObservation o;
    o.instance = inst.get();
    o.now = ctx.clock.wallNow();
    o.terminatedRetention = opts_.terminatedRetention;
    const auto catalog = s_.catalog->current();
    o.catalog = catalog.catalog.get();
    o.catalogProblems = catalog.problems;
    std::shared_ptr<const v1::LaunchTemplate> templ;
    if (inst->spec.launchTemplateRef)
      templ = s_.templates.store().get(req.namespace_, inst->spec.launchTemplateRef->name);
    o.launchTemplate = templ.get();
    o.kubevirtInstalled = kv == kube::OptionalApi::State::Served;

    std::optional<json> vm, vmi, policy;
    if (o.kubevirtInstalled) {
      vm = cached(s_.vms, req.namespace_, req.name);    // a VM is named as its Instance ...
      vmi = cached(s_.vmis, req.namespace_, req.name);  // ... and a VMI as its VM
    }
    o.vm = vm ? &*vm : nullptr;
    o.vmi = vmi ? &*vmi : nullptr;
    if (const json* node = kube::jsonAt(o.vmi, {"status", "nodeName"});
        node != nullptr && node->is_string())
      if (auto n = s_.nodes.store().get("", node->get<std::string>())) {
        const auto zone = n->metadata.labels.find("topology.kubernetes.io/zone");
        if (zone != n->metadata.labels.end()) o.nodeZone = zone->second;
      }
    policy = cached(s_.policies, req.namespace_, rec::networkPolicyName(req.name));
    o.networkPolicy = policy ? &*policy : nullptr;

    const auto vmApplied = executor_.ledger().find(api::kVirtualMachines, req.namespace_, req.name);
    const auto npApplied = executor_.ledger().find(api::kNetworkPolicies, req.namespace_,
                                                   rec::networkPolicyName(req.name));
    const auto ciApplied =
        executor_.ledger().find(api::kSecrets, req.namespace_, rec::cloudInitSecretName(req.name));
    o.vmApplied = vmApplied ? &*vmApplied : nullptr;
    o.networkPolicyApplied = npApplied ? &*npApplied : nullptr;
    o.cloudInitApplied = ciApplied ? &*ciApplied : nullptr;
    if (inst->metadata.deletionTimestamp && opts_.deregistration) {
      if (auto d = opts_.deregistration(*inst, o.now)) {
        o.deregisteringUntil = d->until;
        o.deregisteringFrom = d->from;
        kube::log::debug(
            "Terminating instance waits for a drain",
            {{"instance", req.key()}, {"until", kube::formatRfc3339(d->until)}, {"from", d->from}});
      } else {
        kube::log::debug("Terminating instance: no drain to wait for", {{"instance", req.key()}});
      }
    }

    // What is not watched is read when the plan needs it.
    const rec::LaunchResolution launch = rec::launchOf(o);
    for (const auto& need : rec::secretsToRead(o, launch))
      o.secrets[need.name] = readSecret(client_, req.namespace_, need.name);
    for (const auto& name : rec::snapshotsToRead(o, launch)) {
      const auto snap = kube::getIfExists(client_, v1::Snapshot::resource(), req.namespace_, name);
      o.snapshots[name] =
          snap ? std::make_shared<const v1::Snapshot>(v1::Snapshot::fromJson(*snap)) : nullptr;
    }
    for (const auto& name : rec::restoredDataVolumesToRead(o, launch))
      if (auto dv = kube::getIfExists(client_, api::kDataVolumes, req.namespace_, name))
        o.dataVolumes[name] = std::move(*dv);
    std::optional<json> cloudInitSecret;
    if (rec::cloudInitSecretToRead(o, launch))
      cloudInitSecret = kube::getIfExists(client_, api::kSecrets, req.namespace_,
                                          rec::cloudInitSecretName(req.name));
    o.cloudInitSecret = cloudInitSecret ? &*cloudInitSecret : nullptr;
    for (const auto& claim : rec::claimsToCheck(o, launch))
      if (kube::getIfExists(client_, api::kPersistentVolumeClaims, req.namespace_, claim))
        o.claimsRemaining.push_back(claim);

    return executor_.execute({v1::Instance::resource(), inst->toJson()}, rec::planInstance(o), ctx);
  }

 private:
  void forgetApplies(const kube::Request& req) {
    executor_.ledger().forget(api::kVirtualMachines, req.namespace_, req.name);
    executor_.ledger().forget(api::kNetworkPolicies, req.namespace_,
                              rec::networkPolicyName(req.name));
    executor_.ledger().forget(api::kSecrets, req.namespace_, rec::cloudInitSecretName(req.name));
  }

  kube::Client& client_;
  Sources s_;
  InstanceControllerOptions opts_;
  PlanExecutor executor_;
};

}  // namespace

void addInstanceControllers(kube::Manager& mgr, kube::Recorder& events,
                            std::shared_ptr<InstanceTypeCatalogSource> catalog,
                            const InstanceControllerOptions& opts) {
  auto& instances = mgr.informer<v1::Instance>(v1::Instance::resource());
  auto& templates = mgr.informer<v1::LaunchTemplate>(v1::LaunchTemplate::resource());
  auto& nodes = mgr.informer<kube::RawObject>(api::kNodes);
  auto& policies = mgr.informer<kube::RawObject>(
      api::kNetworkPolicies,
      {.labelSelector = std::string(api::kManagedByLabel) + "=" + api::kManagedByValue});
  // When KubeVirt appears, every Instance is looked at again at once (their
  // plans asked for a look every 30 s meanwhile).
  auto kubevirtFound = std::make_shared<kube::Channel>();
  auto kubevirt = std::make_shared<kube::OptionalApi>(
      mgr.client(),
      kube::OptionalApi::Options{
          .name = "KubeVirt",
          .namespace_ = mgr.options().namespace_,
          .retryPeriod = std::min(opts.kubevirtDiscoveryPeriod, std::chrono::milliseconds(2000)),
          .missingPeriod = opts.kubevirtDiscoveryPeriod,
          .onServed = [&instances, kubevirtFound] {
            for (const auto& i : instances.store().list())
              kubevirtFound->send({i->metadata.namespace_, i->metadata.name});
          }});
  auto& vms = kubevirt->informer(api::kVirtualMachines);
  auto& vmis = kubevirt->informer(api::kVirtualMachineInstances);
  mgr.add(kube::OptionalApi::runnable(kubevirt));

  auto instanceKeysUsing = [&instances](const kube::ObjectMeta& lt) {
    std::vector<kube::Request> out;
    for (const auto& i : instances.store().byNamespace(lt.namespace_))
      if (i->spec.launchTemplateRef && i->spec.launchTemplateRef->name == lt.name)
        out.push_back({i->metadata.namespace_, i->metadata.name});
    return out;
  };
  // A VMI is owned by its VM, which is named as its Instance. By owner, not
  // by label: a KubeVirt whose schema drops the template's labels still
  // reports its VMIs (docs/instances.md, "What the API server does not keep").
  auto instanceOfVmi = [](const kube::ObjectMeta& vmi) {
    std::vector<kube::Request> out;
    if (const kube::OwnerReference* vm = vmi.controllerRef(); vm && vm->kind == "VirtualMachine")
      out.push_back({vmi.namespace_, vm->name});
    else if (vmi.labels.count(api::kInstanceLabel))
      out.push_back({vmi.namespace_, vmi.name});
    return out;
  };

  kube::ControllerBuilder(mgr, "instance")
      .forResource(instances)
      .owns(vms, "Instance", api::kApiVersion)
      .watches(vmis, instanceOfVmi)
      .owns(policies, "Instance", api::kApiVersion)
      .watches(templates, instanceKeysUsing)
      .watches(catalog->informer(), kube::enqueueAllOf(instances))
      .watches(*kubevirtFound)
      .complete(std::make_shared<InstanceReconciler>(
          // Its own QPS, as kube-controller-manager gives each controller:
          // a ScalingGroup's launches do not queue its VMs behind them.
          mgr.controllerClient("instance"),
          InstanceReconciler::Sources{instances, templates, nodes, policies, kubevirt, vms, vmis,
                                      catalog, kubevirtFound},
          events, opts));
}

}  // namespace kubec2::controllers
