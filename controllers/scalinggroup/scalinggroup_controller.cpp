#include "controllers/scalinggroup/scalinggroup_controller.h"

#include "controllers/scalinggroup/policy_metrics.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <prometheus/family.h>

#include "api/resources.h"
#include "api/target_health.h"
#include "api/v1alpha1/types.h"
#include "api/well_known.h"
#include "controllers/common/executor.h"
#include "controllers/scalinggroup/launch_names.h"
#include "controllers/scalinggroup/node_views.h"
#include "reconcilers/scalinggroup/plan.h"
#include "runtime/controller.h"
#include "runtime/errors.h"
#include "runtime/expectations.h"
#include "runtime/finalizers.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;
namespace rec = kubec2::reconcilers;

// kubec2_scaling_activities_total{namespace, group, cause}: every
// scaling activity a group recorded (status.activities keeps only the last 50).
prometheus::Family<prometheus::Counter>& activityFamily() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("kubec2_scaling_activities_total")
          .Help(
              "Scaling activities of ScalingGroups (launches, terminations, replacements, "
              "capacity changes), by cause (the activity Event's reason: Launch, Terminate, "
              "ReplaceUnhealthy, ScheduledAction, ScalingPolicy, ...).")
          .Register(*kube::metrics::registry());
  return family;
}
std::mutex activityMu;
std::map<std::string, std::set<std::string>> activityCauses;  // by "namespace/group"

prometheus::Counter& activities(const std::string& ns, const std::string& group,
                                const std::string& cause) {
  {
    std::lock_guard l(activityMu);
    activityCauses[ns + "/" + group].insert(cause);
  }
  return activityFamily().Add({{"namespace", ns}, {"group", group}, {"cause", cause}});
}

// A deleted group's counters go with it (a group created again under the
// name starts from 0, as a counter reset).
void forgetActivities(const std::string& ns, const std::string& group) {
  std::set<std::string> causes;
  {
    std::lock_guard l(activityMu);
    causes = std::move(activityCauses[ns + "/" + group]);
    activityCauses.erase(ns + "/" + group);
  }
  auto& f = activityFamily();
  for (const auto& cause : causes) {
    const prometheus::Labels l{{"namespace", ns}, {"group", group}, {"cause", cause}};
    if (f.Has(l)) f.Remove(&f.Add(l));
  }
}

// The capacity a dashboard draws against the metric and its target:
// kubec2_scalinggroup_{desired_capacity,current_capacity,in_service,min_size,max_size,
// scaling_active} {namespace, group} and kubec2_scaling_policy_{metric,target}_value
// {namespace, group, policy} and kubec2_predictive_forecast
// {namespace, group, policy, quantity}, set from each status the
// group writes.
class GroupGauges {
 public:
  static GroupGauges& get() {
    static GroupGauges g;
    return g;
  }
  // `policies`: the policies' latest decisions (shown at once, before
  // status.policies does), else status.policies. Typed, not JSON: this
  // runs on every reconcile.
  void set(const std::string& ns, const std::string& group, const v1::ScalingGroupSpec& spec,
           const v1::ScalingGroupStatus& status,
           const std::vector<v1::ScalingPolicyStatus>* policies) {
    const prometheus::Labels l{{"namespace", ns}, {"group", group}};
    auto put = [&](prometheus::Family<prometheus::Gauge>* f,
                   const std::optional<std::int64_t>& field) {
      if (field) f->Add(l).Set(static_cast<double>(*field));
    };
    put(desired_, status.desiredCapacity);
    put(current_, status.currentCapacity);
    put(inService_, status.inServiceCount);
    put(min_, status.minSize);
    put(max_, status.maxSize);
    // 1 or 0 while the group has a ScalingActive condition (it has scaling
    // policies), no sample otherwise: what an alert on inactive policies reads.
    const v1::Condition* active = nullptr;
    if (status.conditions)
      for (const auto& c : *status.conditions)
        if (c.type == "ScalingActive") active = &c;
    if (active)
      scalingActive_->Add(l).Set(active->status == "True" ? 1.0 : 0.0);
    else if (scalingActive_->Has(l))
      scalingActive_->Remove(&scalingActive_->Add(l));
    if (policies == nullptr && status.policies) policies = &*status.policies;
    if (policies == nullptr) return;
    for (const auto& p : *policies) {
      prometheus::Labels pl = l;
      pl["policy"] = p.name;
      remember(ns, group, pl);
      // No value (Prometheus down, no series, warming up): no sample, not
      // the last value, so a dashboard does not look healthy in an outage.
      if (p.metricValue)
        metric_->Add(pl).Set(*p.metricValue);
      else if (metric_->Has(pl))
        metric_->Remove(&metric_->Add(pl));
      if (!spec.scalingPolicies) continue;
      for (const auto& sp : *spec.scalingPolicies) {
        if (sp.name != p.name) continue;
        if (sp.targetTracking) target_->Add(pl).Set(sp.targetTracking->targetValue);
        if (sp.stepScaling) target_->Add(pl).Set(sp.stepScaling->alarm.threshold);
        if (sp.predictive) {
          // What the forecast schedules now (now to now +
          // schedulingBufferSeconds): status.policies[].metricValue and
          // desiredCapacity of a predictive policy.
          const std::optional<double> capacity =
              p.desiredCapacity ? std::optional<double>(static_cast<double>(*p.desiredCapacity))
                                : std::nullopt;
          for (const auto& [quantity, value] :
               {std::pair{"load", p.metricValue}, std::pair{"capacity", capacity}}) {
            prometheus::Labels fl = pl;
            fl["quantity"] = quantity;
            remember(ns, group, fl);
            if (value)
              forecast_->Add(fl).Set(*value);
            else if (forecast_->Has(fl))
              forecast_->Remove(&forecast_->Add(fl));
          }
        }
      }
    }
  }
  void forget(const std::string& ns, const std::string& group) {
    const prometheus::Labels l{{"namespace", ns}, {"group", group}};
    for (auto* f : {desired_, current_, inService_, min_, max_, scalingActive_})
      if (f->Has(l)) f->Remove(&f->Add(l));
    std::lock_guard lock(mu_);
    for (const auto& pl : policyLabels_[ns + "/" + group])
      for (auto* f : {metric_, target_, forecast_})
        if (f->Has(pl)) f->Remove(&f->Add(pl));
    policyLabels_.erase(ns + "/" + group);
  }

 private:
  void remember(const std::string& ns, const std::string& group, const prometheus::Labels& pl) {
    std::lock_guard lock(mu_);
    auto& known = policyLabels_[ns + "/" + group];
    if (std::find(known.begin(), known.end(), pl) == known.end()) known.push_back(pl);
  }

  static prometheus::Family<prometheus::Gauge>* gauge(const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*kube::metrics::registry());
  }
  prometheus::Family<prometheus::Gauge>* desired_ = gauge(
      "kubec2_scalinggroup_desired_capacity", "The capacity in force (status.desiredCapacity).");
  prometheus::Family<prometheus::Gauge>* current_ =
      gauge("kubec2_scalinggroup_current_capacity", "Instances counting toward the capacity.");
  prometheus::Family<prometheus::Gauge>* inService_ =
      gauge("kubec2_scalinggroup_in_service", "Instances in service.");
  prometheus::Family<prometheus::Gauge>* min_ =
      gauge("kubec2_scalinggroup_min_size", "The minimum in force (status.minSize).");
  prometheus::Family<prometheus::Gauge>* max_ =
      gauge("kubec2_scalinggroup_max_size", "The maximum in force (status.maxSize).");
  prometheus::Family<prometheus::Gauge>* scalingActive_ =
      gauge("kubec2_scalinggroup_scaling_active",
            "1 while the ScalingActive condition is True (the policies can read their metrics "
            "and act), 0 while False; no sample for a group without scaling policies.");
  prometheus::Family<prometheus::Gauge>* metric_ =
      gauge("kubec2_scaling_policy_metric_value",
            "A scaling policy's metric at its last evaluation (status.policies[].metricValue).");
  prometheus::Family<prometheus::Gauge>* target_ =
      gauge("kubec2_scaling_policy_target_value",
            "A scaling policy's target value (target tracking) or alarm threshold (step).");
  prometheus::Family<prometheus::Gauge>* forecast_ =
      gauge("kubec2_predictive_forecast",
            "A predictive policy's forecast for now to now + schedulingBufferSeconds (what it "
            "schedules now): quantity load (the load's unit) or capacity (instances).");
  std::mutex mu_;
  std::map<std::string, std::vector<prometheus::Labels>> policyLabels_;
};

// The work-queue key of the group controlling an Instance, if any.
std::optional<std::string> groupKeyOf(const kube::ObjectMeta& inst) {
  const kube::OwnerReference* owner = inst.controllerRef();
  if (owner == nullptr || owner->kind != "ScalingGroup") return std::nullopt;
  return kube::makeKey(inst.namespace_, owner->name);
}

class ScalingGroupReconciler final : public kube::Reconciler {
 public:
  struct Sources {
    kube::Informer<v1::ScalingGroup>& groups;
    kube::Informer<v1::Instance>& instances;
    kube::Informer<v1::LaunchTemplate>& templates;
    kube::Informer<v1::LoadBalancer>& loadBalancers;
  };

  ScalingGroupReconciler(kube::Client& client, Sources s, kube::Recorder& events,
                         std::shared_ptr<kube::Expectations> expectations,
                         std::shared_ptr<PolicyReadingsStore> readings,
                         std::shared_ptr<kube::Channel> wake,
                         std::shared_ptr<const NodeViews> nodes,
                         const ScalingGroupControllerOptions& opts)
      : s_(s),
        nodes_(std::move(nodes)),
        expectations_(std::move(expectations)),
        readings_(std::move(readings)),
        wake_(std::move(wake)),
        prometheusConfigured_(opts.prometheus != nullptr),
        evaluationInterval_(opts.evaluationInterval),
        instanceStartTimeout_(opts.instanceStartTimeout),
        metricWindow_(rec::queryWindow(opts.evaluationInterval, opts.scrapeInterval)),
        executor_(client, events, opts.fieldManager) {}

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const auto group = fetchSubject(s_.groups, req, executor_);
    const std::string key = req.key();
    if (!group) {
      expectations_->deleteExpectations(key);
      launchNames_.forget(key);
      readings_->erase(key);
      GroupGauges::get().forget(req.namespace_, req.name);
      forgetActivities(req.namespace_, req.name);
      std::lock_guard l(mu_);
      lastStatusWrite_.erase(key);
      latestPolicies_.erase(key);
      return kube::Result::done();
    }

    rec::ScalingGroupObservation o;
    o.group = group.get();
    o.now = ctx.clock.wallNow();
    // Before reading the Instances, as the ReplicaSet controller does: the
    // informer stores an Instance before its handler lowers the expectation,
    // so once satisfied the store holds every Instance awaited. Read after,
    // an event landing in between would make a stale list look complete and
    // the plan would launch again what it has just launched.
    o.expectationsSatisfied = expectations_->satisfied(key);
    std::vector<std::shared_ptr<const v1::Instance>> keep;  // alive while planning
    // By the owner index: the group's own Instances, not its namespace's.
    for (const auto& i : s_.instances.store().byOwner(group->metadata.uid))
      if (i->metadata.namespace_ == req.namespace_ &&
          kube::isControlledBy(i->metadata, group->metadata.uid)) {
        keep.push_back(i);
        o.instances.push_back(i.get());
      }
    const auto templ = s_.templates.store().get(req.namespace_, group->spec.launchTemplateRef.name);
    o.launchTemplate = templ.get();
    o.nodes = nodes_->list();
    api::TargetHealthIndex targets;
    for (const auto& ref :
         group->spec.loadBalancerRefs.value_or(std::vector<v1::LocalObjectReference>{}))
      if (auto lb = s_.loadBalancers.store().get(req.namespace_, ref.name)) targets.add(*lb);
    o.targets = &targets;
    {
      std::lock_guard l(mu_);
      if (const auto it = lastStatusWrite_.find(key); it != lastStatusWrite_.end())
        o.lastStatusWrite = it->second;
    }

    const auto readings = readings_->get(key);
    o.policyReadings = readings.get();
    // The policies' decisions since status.policies was last written (it
    // is written when something a user acts on changes, not every pass).
    // One reconcile per key at a time (the work queue's rule): the copy
    // stays this reconcile's.
    std::shared_ptr<const std::vector<v1::ScalingPolicyStatus>> latest;
    {
      std::lock_guard l(mu_);
      if (const auto it = latestPolicies_.find(key);
          it != latestPolicies_.end() && it->second.first == group->metadata.uid)
        latest = it->second.second;
    }
    o.latestPolicies = latest.get();
    o.prometheusConfigured = prometheusConfigured_;
    o.evaluationInterval = evaluationInterval_;
    o.instanceStartTimeout = instanceStartTimeout_;
    o.metricWindow = metricWindow_;

    auto decision = rec::planScalingGroup(o);
    // The Instances to launch get their names here, not from the API
    // server: one whose create went unanswered last time is sent again
    // under the same name (launch_names.h).
    std::vector<std::size_t> creates;
    for (std::size_t i = 0; i < decision.plan.actions.size(); ++i)
      if (std::holds_alternative<rec::CreateObject>(decision.plan.actions[i])) creates.push_back(i);
    if (!creates.empty()) {
      const auto names = launchNames_.take(
          key, group->metadata.name, creates.size(),
          [&](const std::string& n) {
            return s_.instances.store().get(req.namespace_, n) != nullptr;
          },
          ctx.clock.now());
      for (std::size_t k = 0; k < creates.size(); ++k) {
        json& meta =
            std::get<rec::CreateObject>(decision.plan.actions[creates[k]]).object["metadata"];
        meta.erase("generateName");
        meta["name"] = names[k];
      }
    }
    if (decision.creations > 0 || !decision.deletionUids.empty())
      expectations_->expect(key, decision.creations, decision.deletionUids);

    // The group as JSON only for a plan that writes (most reconciles do not).
    const Subject subject{v1::ScalingGroup::resource(),
                          decision.plan.actions.empty() ? json() : group->toJson()};
    ExecutionReport report;
    try {
      auto result = executor_.execute(subject, decision.plan, ctx, &report);
      // The gauges show every evaluation, even one status does not show yet.
      const auto* latestPolicies =
          decision.latestPolicies.empty() ? nullptr : &decision.latestPolicies;
      if (const auto* st = decision.plan.first<rec::PatchStatus>()) {
        {
          std::lock_guard l(mu_);
          lastStatusWrite_[key] = o.now;
        }
        GroupGauges::get().set(req.namespace_, req.name, group->spec,
                               v1::ScalingGroupStatus::fromJson(st->status), latestPolicies);
      } else if (group->status) {
        GroupGauges::get().set(req.namespace_, req.name, group->spec, *group->status,
                               latestPolicies);
      } else if (latestPolicies) {
        GroupGauges::get().set(req.namespace_, req.name, group->spec, v1::ScalingGroupStatus{},
                               latestPolicies);
      }
      {
        std::lock_guard l(mu_);
        if (decision.latestPolicies.empty())
          latestPolicies_.erase(key);
        else
          latestPolicies_[key] = {group->metadata.uid,
                                  std::make_shared<const std::vector<v1::ScalingPolicyStatus>>(
                                      std::move(decision.latestPolicies))};
      }
      for (const auto& a : decision.activities)
        activities(req.namespace_, req.name, a.kind).Increment();
      return result;
    } catch (const kube::ApiError&) {
      // What did not happen will never be seen: lower the expectations for
      // it, as the ReplicaSet controller does for a failed create. (The
      // executor has reported the failure on the group: Ready WriteFailed.)
      // A create whose answer was lost may have been committed all the
      // same: its name is offered again first, so that a second attempt
      // finds it (409) rather than launching another.
      std::vector<std::string> unconfirmed;
      for (std::size_t i = 0; i < decision.plan.actions.size(); ++i) {
        if (i < report.done.size() && report.done[i]) continue;
        const auto& action = decision.plan.actions[i];
        if (const auto* c = std::get_if<rec::CreateObject>(&action)) {
          expectations_->creationObserved(key);
          unconfirmed.push_back(c->object["metadata"].value("name", ""));
        } else if (const auto* d = std::get_if<rec::DeleteObject>(&action)) {
          expectations_->deletionObserved(key, d->uid);
        }
      }
      launchNames_.unconfirmed(key, unconfirmed, ctx.clock.now());
      throw;
    }
  }

 private:
  Sources s_;
  std::shared_ptr<const NodeViews> nodes_;
  std::shared_ptr<kube::Expectations> expectations_;
  std::shared_ptr<PolicyReadingsStore> readings_;
  std::shared_ptr<kube::Channel> wake_;  // kept alive with the controller that watches it
  bool prometheusConfigured_ = false;
  std::chrono::seconds evaluationInterval_{60};
  std::chrono::seconds instanceStartTimeout_{300};
  std::chrono::seconds metricWindow_{0};
  PlanExecutor executor_;
  LaunchNames launchNames_;
  std::mutex mu_;
  // Per group key: the group's uid and its policies' latest decisions.
  // Shared, not copied, with the reconcile that reads them (the memory of
  // a target tracking policy holds its recent load points).
  std::map<std::string,
           std::pair<std::string, std::shared_ptr<const std::vector<v1::ScalingPolicyStatus>>>>
      latestPolicies_;
  std::map<std::string, rec::Time> lastStatusWrite_;  // guarded by mu_
};

}  // namespace

void addScalingGroupController(kube::Manager& mgr, kube::Recorder& events,
                               const ScalingGroupControllerOptions& opts) {
  auto& groups = mgr.informer<v1::ScalingGroup>(v1::ScalingGroup::resource());
  auto& instances = mgr.informer<v1::Instance>(v1::Instance::resource());
  auto& templates = mgr.informer<v1::LaunchTemplate>(v1::LaunchTemplate::resource());
  auto& nodes = mgr.informer<kube::RawObject>(api::kNodes);
  auto& lbs = mgr.informer<v1::LoadBalancer>(v1::LoadBalancer::resource());
  auto expectations = std::make_shared<kube::Expectations>();

  // Registered before the controller's own handlers, so a reconcile woken by
  // an Instance event already sees that event's expectation lowered.
  instances.addHandler({[expectations](const auto& i) {
                          if (auto k = groupKeyOf(i->metadata)) expectations->creationObserved(*k);
                        },
                        [expectations](const auto& old, const auto& now) {
                          if (!old->metadata.deletionTimestamp && now->metadata.deletionTimestamp)
                            if (auto k = groupKeyOf(now->metadata))
                              expectations->deletionObserved(*k, now->metadata.uid);
                        },
                        [expectations](const auto& i) {
                          if (auto k = groupKeyOf(i->metadata))
                            expectations->deletionObserved(*k, i->metadata.uid);
                        }});

  auto groupsUsingTemplate = [&groups](const kube::ObjectMeta& lt) {
    std::vector<kube::Request> out;
    for (const auto& g : groups.store().byNamespace(lt.namespace_))
      if (g->spec.launchTemplateRef.name == lt.name)
        out.push_back({g->metadata.namespace_, g->metadata.name});
    return out;
  };
  auto groupsOfLoadBalancer = [&groups](const kube::ObjectMeta& lb) {
    std::vector<kube::Request> out;
    for (const auto& g : groups.store().byNamespace(lb.namespace_))
      for (const auto& ref :
           g->spec.loadBalancerRefs.value_or(std::vector<v1::LocalObjectReference>{}))
        if (ref.name == lb.name) out.push_back({g->metadata.namespace_, g->metadata.name});
    return out;
  };

  // The scaling policies' metrics, read every evaluation interval by a
  // leader-only runnable that wakes each group through this channel.
  auto readings = std::make_shared<PolicyReadingsStore>();
  auto wake = std::make_shared<kube::Channel>();
  if (opts.prometheus)
    addPolicyMetricsEvaluator(
        mgr, groups, instances, readings, *wake,
        {opts.prometheus, opts.evaluationInterval, opts.scrapeInterval, opts.requestCountMetric});

  // The nodes' zones and schedulability, read once per node event; every
  // group is woken when one of them changes (a node added, gone, cordoned,
  // not Ready, moved to another zone), not on a heartbeat (node_views.h).
  auto nodeViews = std::make_shared<NodeViews>();
  auto wakeAllGroups = [&groups, wake] {
    for (const auto& g : groups.store().list())
      wake->send({g->metadata.namespace_, g->metadata.name});
  };
  nodes.addHandler({[nodeViews, wakeAllGroups](const auto& n) {
                      if (nodeViews->put(n->metadata.name, nodeViewOf(*n))) wakeAllGroups();
                    },
                    [nodeViews, wakeAllGroups](const auto&, const auto& n) {
                      if (nodeViews->put(n->metadata.name, nodeViewOf(*n))) wakeAllGroups();
                    },
                    [nodeViews, wakeAllGroups](const auto& n) {
                      if (nodeViews->erase(n->metadata.name)) wakeAllGroups();
                    }});

  kube::ControllerBuilder(mgr, "scalinggroup")
      .forResource(groups)
      .watches(*wake)
      .owns(instances, "ScalingGroup", api::kApiVersion)
      .watches(templates, groupsUsingTemplate)
      .watches(lbs, groupsOfLoadBalancer)
      .complete(std::make_shared<ScalingGroupReconciler>(
          mgr.controllerClient("scalinggroup"),
          ScalingGroupReconciler::Sources{groups, instances, templates, lbs}, events, expectations,
          readings, wake, nodeViews, opts));
}

}  // namespace kubec2::controllers
