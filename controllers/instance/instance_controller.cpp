#include "controllers/instance/instance_controller.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "api/v1alpha1/types.h"
#include "reconcilers/instance/plan.h"
#include "reconcilers/instance/virtual_machine.h"
#include "runtime/base64.h"
#include "runtime/controller.h"
#include "runtime/finalizers.h"
#include "runtime/log.h"
#include "runtime/timefmt.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;
namespace rec = kubec2::reconcilers;

const kube::Resource kVirtualMachines{"kubevirt.io", "v1", "virtualmachines", true,
                                      "VirtualMachine"};
const kube::Resource kVirtualMachineInstances{"kubevirt.io", "v1", "virtualmachineinstances", true,
                                              "VirtualMachineInstance"};
const kube::Resource kNodes{"", "v1", "nodes", false, "Node"};
const kube::Resource kSecrets{"", "v1", "secrets", true, "Secret"};
const kube::Resource kConfigMaps{"", "v1", "configmaps", true, "ConfigMap"};
const kube::Resource kClaims{"", "v1", "persistentvolumeclaims", true, "PersistentVolumeClaim"};
const kube::Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", true, "DataVolume"};
const kube::Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies", true,
                                      "NetworkPolicy"};

// KubeVirt's informers run only once discovery finds its API, so that an
// operator started before KubeVirt keeps running (and says so in every
// Instance's Ready condition) instead of failing its cache sync.
struct KubeVirtWatch {
  enum State { Unknown, Missing, Installed };
  KubeVirtWatch(kube::Client& client, const std::string& ns)
      : vms(client, kVirtualMachines, {.namespace_ = ns}),
        vmis(client, kVirtualMachineInstances, {.namespace_ = ns}) {}
  kube::Informer<kube::RawObject> vms;
  kube::Informer<kube::RawObject> vmis;
  std::atomic<int> state{Unknown};
  bool synced() const { return vms.hasSynced() && vmis.hasSynced(); }
};

std::unique_ptr<kube::Runnable> kubeVirtWatchRunnable(kube::Client& client,
                                                      std::shared_ptr<KubeVirtWatch> kv) {
  return kube::makeRunnable(
      "kubevirt-watch",
      [&client, kv](std::stop_token stop) {
        std::mutex m;
        std::condition_variable_any cv;
        bool logged = false;
        while (!stop.stop_requested()) {
          bool served = false;
          try {
            served = client.isServed("kubevirt.io", "v1", "virtualmachines") &&
                     client.isServed("kubevirt.io", "v1", "virtualmachineinstances");
          } catch (const std::exception& e) {
            // Not a verdict: Instances wait (state Unknown) rather than all
            // being told KubeVirt is missing over one failed request.
            kube::log::warn("Discovery of KubeVirt failed; retrying", {{"error", e.what()}});
            std::unique_lock lock(m);
            cv.wait_for(lock, stop, 2s, [] { return false; });
            continue;
          }
          if (served) {
            kv->state = KubeVirtWatch::Installed;
            kube::log::info("KubeVirt found: watching VirtualMachines and their instances");
            std::jthread vmis([&](std::stop_token) { kv->vmis.run(stop); });
            kv->vms.run(stop);
            return;
          }
          kv->state = KubeVirtWatch::Missing;
          if (!logged) {
            kube::log::error(
                "KubeVirt is not installed: kubevirt.io/v1 virtualmachines is not served; "
                "Instances cannot launch until it is (checking every 30 s)");
            logged = true;
          }
          std::unique_lock lock(m);
          cv.wait_for(lock, stop, 30s, [] { return false; });
        }
      },
      /*needsLeaderElection=*/false);
}

// Non-empty lines, trimmed: one OpenSSH public key per line.
void appendKeys(const std::string& text, std::vector<std::string>& keys) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto b = line.find_first_not_of(" \t\r");
    const auto e = line.find_last_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    keys.push_back(line.substr(b, e - b + 1));
  }
}

class InstanceReconciler final : public kube::Reconciler {
 public:
  InstanceReconciler(kube::Client& client, kube::Informer<v1::Instance>& instances,
                     kube::Informer<v1::LaunchTemplate>& templates,
                     std::shared_ptr<KubeVirtWatch> kv, kube::Informer<kube::RawObject>& nodes,
                     kube::Informer<kube::RawObject>& policies,
                     kube::Informer<kube::RawObject>& catalogMaps, kube::Recorder& events,
                     InstanceControllerOptions opts)
      : client_(client),
        instances_(instances),
        templates_(templates),
        kv_(std::move(kv)),
        nodes_(nodes),
        policies_(policies),
        catalogMaps_(catalogMaps),
        events_(events),
        opts_(std::move(opts)) {}

  kube::Result reconcile(const kube::Request& req) override {
    auto inst = instances_.store().get(req.namespace_, req.name);
    if (!inst) {
      std::lock_guard lock(writtenMu_);
      written_.erase(req.key());
      return kube::Result::done();
    }
    inst = withStatusWritten(req, inst);

    rec::InstanceObservation o;
    o.instance = inst.get();
    o.now = std::chrono::system_clock::now();
    o.terminatedRetention = opts_.terminatedRetention;
    std::vector<std::string> catalogProblems;
    const auto catalog = catalog_(catalogProblems);
    o.catalog = catalog.get();
    o.catalogProblems = catalogProblems;

    std::shared_ptr<const v1::LaunchTemplate> templ;
    if (inst->spec.launchTemplateRef)
      templ = templates_.store().get(req.namespace_, inst->spec.launchTemplateRef->name);
    o.launchTemplate = templ.get();

    const int kvState = kv_->state.load();
    if (kvState == KubeVirtWatch::Unknown) return kube::Result::after(1s);
    o.kubevirtInstalled = kvState == KubeVirtWatch::Installed;
    if (o.kubevirtInstalled && !kv_->synced()) return kube::Result::after(1s);

    json vm, vmi, policy;
    if (o.kubevirtInstalled) {
      if (auto p = kv_->vms.store().get(req.namespace_, req.name)) {
        vm = p->toJson();
        o.vm = &vm;
      }
      if (auto p = kv_->vmis.store().get(req.namespace_, req.name)) {
        vmi = p->toJson();
        o.vmi = &vmi;
        std::string node;
        if (const auto st = vmi.find("status"); st != vmi.end() && st->is_object())
          node = st->value("nodeName", "");
        if (!node.empty())
          if (auto n = nodes_.store().get("", node)) {
            const auto it = n->metadata.labels.find("topology.kubernetes.io/zone");
            if (it != n->metadata.labels.end()) o.nodeZone = it->second;
          }
      }
    }
    if (auto p = policies_.store().get(req.namespace_, req.name + "-sg")) {
      policy = p->toJson();
      o.networkPolicy = &policy;
    }

    const rec::LaunchResolution launch = rec::resolveLaunch(*inst, templ.get());
    if (!inst->metadata.deletionTimestamp && o.kubevirtInstalled)
      readSecrets(req.namespace_, rec::secretsNeeded(*inst, launch, o.vm), o);
    if (inst->metadata.deletionTimestamp && o.vm == nullptr)
      o.volumesRemain = volumesRemain(*inst, launch);

    const rec::InstancePlan plan = rec::planInstance(o);
    return apply(*inst, plan);
  }

 private:
  // The status this controller last wrote, until the cache catches up: a
  // reconcile that comes before the informer has delivered our own write
  // (a VMI event, say) would otherwise see the old status, write the same
  // new one again and repeat its Event. Keyed by the resourceVersion the
  // write was based on; any other version in the cache is newer.
  struct WrittenStatus {
    std::string basedOn;
    json status;
  };

  std::shared_ptr<const v1::Instance> withStatusWritten(const kube::Request& req,
                                                        std::shared_ptr<const v1::Instance> inst) {
    std::lock_guard lock(writtenMu_);
    const auto it = written_.find(req.key());
    if (it == written_.end()) return inst;
    if (it->second.basedOn != inst->metadata.resourceVersion) {
      written_.erase(it);
      return inst;
    }
    auto copy = std::make_shared<v1::Instance>(*inst);
    copy->status = v1::InstanceStatus::fromJson(it->second.status);
    return copy;
  }

  void rememberStatus(const v1::Instance& inst, const json& status) {
    std::lock_guard lock(writtenMu_);
    written_[kube::makeKey(inst.metadata.namespace_, inst.metadata.name)] = {
        inst.metadata.resourceVersion, status};
  }

  // The catalog with the ConfigMap applied, rebuilt when the ConfigMap changes.
  struct CatalogCache {
    std::mutex mu;
    std::string resourceVersion = "none";
    std::shared_ptr<const rec::InstanceTypeCatalog> catalog;
    std::vector<std::string> problems;
  };

  std::shared_ptr<const rec::InstanceTypeCatalog> catalog_(std::vector<std::string>& problems) {
    const auto cm = catalogMaps_.store().get(opts_.catalogNamespace, opts_.catalogName);
    const std::string rv = cm ? cm->metadata.resourceVersion : "";
    std::lock_guard lock(cache_.mu);
    if (!cache_.catalog || cache_.resourceVersion != rv) {
      std::map<std::string, std::string> data;
      if (cm) {
        const json j = cm->toJson();
        if (j.contains("data") && j["data"].is_object())
          for (const auto& [k, v] : j["data"].items())
            if (v.is_string()) data[k] = v.get<std::string>();
      }
      cache_.problems.clear();
      cache_.catalog = std::make_shared<const rec::InstanceTypeCatalog>(
          rec::InstanceTypeCatalog::builtIn().withOverrides(data, cache_.problems));
      cache_.resourceVersion = rv;
      for (const auto& p : cache_.problems)
        kube::log::warn(
            "Instance type ConfigMap entry ignored",
            {{"configmap", opts_.catalogNamespace + "/" + opts_.catalogName}, {"problem", p}});
    }
    problems = cache_.problems;
    return cache_.catalog;
  }

  void readSecrets(const std::string& ns, const std::vector<rec::SecretNeed>& needs,
                   rec::InstanceObservation& o) {
    for (const auto& need : needs) {
      const std::string field = need.keyPair ? "keyPair" : "userData.secretRef";
      json secret;
      try {
        secret = client_.get(kSecrets, ns, need.name);
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;
        o.secretProblem =
            "Secret \"" + need.name + "\" (" + field + ") not found in namespace " + ns;
        return;
      }
      const json data = secret.value("data", json::object());
      if (need.key) {
        if (!data.contains(*need.key) || !data[*need.key].is_string()) {
          o.secretProblem =
              "Secret \"" + need.name + "\" (" + field + ") has no key \"" + *need.key + "\"";
          return;
        }
        const std::string value =
            kube::base64Decode(data[*need.key].get<std::string>()).value_or("");
        if (need.keyPair)
          appendKeys(value, o.sshPublicKeys);
        else
          o.userData = value;
      } else {
        for (const auto& [k, v] : data.items())
          if (v.is_string())
            appendKeys(kube::base64Decode(v.get<std::string>()).value_or(""), o.sshPublicKeys);
      }
      if (need.keyPair && o.sshPublicKeys.empty()) {
        o.secretProblem = "Secret \"" + need.name + "\" (keyPair) holds no SSH public key";
        return;
      }
    }
  }

  // Whether a claim that goes with the instance (deleteOnTermination) still exists.
  bool volumesRemain(const v1::Instance& inst, const rec::LaunchResolution& launch) {
    if (!launch.ok() || !launch.spec.volumes) return false;
    std::vector<std::string> claims;
    const auto& vols = *launch.spec.volumes;
    const bool persistentRoot = launch.spec.image && !launch.spec.image->containerDisk.has_value();
    if (persistentRoot && (!vols.root || vols.root->deleteOnTermination.value_or(true)))
      claims.push_back(inst.metadata.name + "-root");
    if (vols.extra)
      for (const auto& v : *vols.extra)
        if (v.deleteOnTermination.value_or(false))
          claims.push_back(inst.metadata.name + "-" + v.name);
    for (const auto& c : claims) {
      try {
        client_.get(kClaims, inst.metadata.namespace_, c);
        return true;
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;
      }
    }
    return false;
  }

  kube::Result apply(const v1::Instance& inst, const rec::InstancePlan& plan) {
    const std::string& ns = inst.metadata.namespace_;
    const std::string& name = inst.metadata.name;
    const auto& res = v1::Instance::resource();
    const json instJson = inst.toJson();
    if (plan.addFinalizer)
      if (auto p = kube::addFinalizerPatch(instJson, rec::kInstanceFinalizer))
        client_.patch(res, ns, name, kube::PatchType::Json, *p);
    if (plan.applyVm) client_.apply(kVirtualMachines, ns, *plan.applyVm, opts_.fieldManager, true);
    // Released first, or the VM's deletion would take them along.
    for (const auto& dv : plan.keepVolumes) {
      try {
        client_.patch(kDataVolumes, ns, dv, kube::PatchType::Merge,
                      {{"metadata", {{"ownerReferences", nullptr}}}});
        kube::log::info("Released a volume kept after termination",
                        {{"instance", ns + "/" + name}, {"dataVolume", dv}});
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;  // not created (or no CDI): nothing to keep
      }
    }
    if (plan.deleteVm) {
      kube::DeleteOptions d;
      d.preconditionUid = kv_->vms.store().get(ns, name)
                              ? kv_->vms.store().get(ns, name)->metadata.uid
                              : std::optional<std::string>{};
      try {
        client_.del(kVirtualMachines, ns, name, d);
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;
      }
    }
    if (plan.applyNetworkPolicy)
      client_.apply(kNetworkPolicies, ns, *plan.applyNetworkPolicy, opts_.fieldManager, true);
    if (plan.deleteNetworkPolicy) {
      try {
        client_.del(kNetworkPolicies, ns, name + "-sg");
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;
      }
    }
    if (plan.status) {
      // A merge patch: members the new status drops are set to null.
      json body = *plan.status;
      if (inst.status) {
        const json oldStatus = inst.status->toJson();
        for (auto it = oldStatus.begin(); it != oldStatus.end(); ++it)
          if (!body.contains(it.key())) body[it.key()] = nullptr;
      }
      try {
        client_.patch(res, ns, name, kube::PatchType::Merge, {{"status", body}},
                      {.fieldManager = opts_.fieldManager, .subresource = "status"});
        if (!plan.addFinalizer) rememberStatus(inst, *plan.status);
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;  // deleted meanwhile
      }
    }
    const kube::ObjectRef ref{
        "compute.kubec2.io/v1alpha1", "Instance", ns, name, inst.metadata.uid, ""};
    for (const auto& e : plan.events)
      events_.event(ref, e.warning ? kube::EventType::Warning : kube::EventType::Normal, e.reason,
                    e.message);
    if (plan.removeFinalizer)
      if (auto p = kube::removeFinalizerPatch(instJson, rec::kInstanceFinalizer)) {
        try {
          client_.patch(res, ns, name, kube::PatchType::Json, *p);
        } catch (const kube::ApiError& e) {
          if (!e.isNotFound()) throw;
        }
      }
    if (plan.retryWithBackoff) return kube::Result::requeueNow();
    if (plan.requeueAfter)
      return kube::Result::after(
          std::chrono::duration_cast<std::chrono::milliseconds>(*plan.requeueAfter));
    return kube::Result::done();
  }

  kube::Client& client_;
  kube::Informer<v1::Instance>& instances_;
  kube::Informer<v1::LaunchTemplate>& templates_;
  std::shared_ptr<KubeVirtWatch> kv_;
  kube::Informer<kube::RawObject>& nodes_;
  kube::Informer<kube::RawObject>& policies_;
  kube::Informer<kube::RawObject>& catalogMaps_;
  kube::Recorder& events_;
  InstanceControllerOptions opts_;
  CatalogCache cache_;
  std::mutex writtenMu_;
  std::map<std::string, WrittenStatus> written_;
};

// LaunchTemplate status: the latest and default version numbers.
class LaunchTemplateReconciler final : public kube::Reconciler {
 public:
  LaunchTemplateReconciler(kube::Client& client, kube::Informer<v1::LaunchTemplate>& templates,
                           std::string fieldManager)
      : client_(client), templates_(templates), fieldManager_(std::move(fieldManager)) {}

  kube::Result reconcile(const kube::Request& req) override {
    const auto lt = templates_.store().get(req.namespace_, req.name);
    if (!lt) return kube::Result::done();
    const v1::LaunchTemplateStatus old = lt->status.value_or(v1::LaunchTemplateStatus{});
    v1::LaunchTemplateStatus s = old;
    const auto latest = static_cast<std::int64_t>(lt->spec.versions.size());
    const std::int64_t def = lt->spec.defaultVersion.value_or(1);
    s.latestVersion = latest;
    s.defaultVersion = def;
    s.observedGeneration = lt->metadata.generation;
    v1::Condition c;
    c.type = "Ready";
    c.status = def <= latest ? "True" : "False";
    c.reason = def <= latest ? "Published" : "DefaultVersionMissing";
    c.message = std::to_string(latest) + (latest == 1 ? " version" : " versions") +
                "; $Latest is version " + std::to_string(latest) + ", $Default is version " +
                std::to_string(def);
    c.observedGeneration = lt->metadata.generation;
    c.lastTransitionTime = kube::formatRfc3339(std::chrono::system_clock::now());
    if (old.conditions)
      for (const auto& oc : *old.conditions)
        if (oc.type == "Ready" && oc.status == c.status)
          c.lastTransitionTime = oc.lastTransitionTime;
    s.conditions = std::vector<v1::Condition>{c};
    if (s == old) return kube::Result::done();
    try {
      client_.patch(v1::LaunchTemplate::resource(), req.namespace_, req.name,
                    kube::PatchType::Merge, {{"status", s.toJson()}},
                    {.fieldManager = fieldManager_, .subresource = "status"});
    } catch (const kube::ApiError& e) {
      if (!e.isNotFound()) throw;
    }
    return kube::Result::done();
  }

 private:
  kube::Client& client_;
  kube::Informer<v1::LaunchTemplate>& templates_;
  std::string fieldManager_;
};

}  // namespace

void addInstanceControllers(kube::Manager& mgr, kube::Recorder& events,
                            const InstanceControllerOptions& opts) {
  auto& instances = mgr.informer<v1::Instance>(v1::Instance::resource());
  auto& templates = mgr.informer<v1::LaunchTemplate>(v1::LaunchTemplate::resource());
  auto& nodes = mgr.informer<kube::RawObject>(kNodes);
  auto& policies = mgr.informer<kube::RawObject>(
      kNetworkPolicies, {.labelSelector = std::string(rec::kManagedByLabel) + "=kubec2"});
  auto& catalogMaps = mgr.informer<kube::RawObject>(
      kConfigMaps,
      {.namespace_ = opts.catalogNamespace, .fieldSelector = "metadata.name=" + opts.catalogName});
  auto kv = std::make_shared<KubeVirtWatch>(mgr.client(), mgr.options().namespace_);
  mgr.add(kubeVirtWatchRunnable(mgr.client(), kv));

  auto instanceKeysUsing = [&instances](const kube::ObjectMeta& lt) {
    std::vector<kube::Request> out;
    for (const auto& i : instances.store().byNamespace(lt.namespace_))
      if (i->spec.launchTemplateRef && i->spec.launchTemplateRef->name == lt.name)
        out.push_back({i->metadata.namespace_, i->metadata.name});
    return out;
  };
  auto allInstances = [&instances](const kube::ObjectMeta&) {
    std::vector<kube::Request> out;
    for (const auto& i : instances.store().list())
      out.push_back({i->metadata.namespace_, i->metadata.name});
    return out;
  };
  // A VMI is named as its VM, which is named as its Instance.
  auto instanceOfVmi = [](const kube::ObjectMeta& vmi) {
    std::vector<kube::Request> out;
    if (vmi.labels.count(rec::kInstanceLabel)) out.push_back({vmi.namespace_, vmi.name});
    return out;
  };

  kube::ControllerBuilder(mgr, "instance")
      .forResource(instances)
      .owns(kv->vms, "Instance", "compute.kubec2.io/v1alpha1")
      .watches(kv->vmis, instanceOfVmi)
      .owns(policies, "Instance", "compute.kubec2.io/v1alpha1")
      .watches(templates, instanceKeysUsing)
      .watches(catalogMaps, allInstances)
      .complete(std::make_shared<InstanceReconciler>(mgr.client(), instances, templates, kv, nodes,
                                                     policies, catalogMaps, events, opts));

  kube::ControllerBuilder(mgr, "launchtemplate")
      .forResource(templates)
      .complete(
          std::make_shared<LaunchTemplateReconciler>(mgr.client(), templates, opts.fieldManager));
}

}  // namespace kubec2::controllers
