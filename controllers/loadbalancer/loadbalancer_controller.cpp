#include "controllers/loadbalancer/loadbalancer_controller.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "api/resources.h"
#include "api/v1alpha1/types.h"
#include "api/well_known.h"
#include "controllers/common/executor.h"
#include "reconcilers/loadbalancer/plan.h"
#include "runtime/controller.h"
#include "runtime/finalizers.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/object.h"
#include "runtime/prober.h"
#include "runtime/strings.h"
#include "runtime/timefmt.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
namespace v1 = kubec2::api::v1alpha1;
namespace lbr = kubec2::reconcilers::loadbalancer;
using Clock = std::chrono::system_clock;

// kubec2_loadbalancer_targets{namespace, loadbalancer, target_group, state},
// kubec2_loadbalancer_health_checks_total{namespace, loadbalancer,
// target_group, outcome} and kubec2_loadbalancer_health_check_duration_seconds
// {namespace, loadbalancer}.
class LoadBalancerMetrics {
 public:
  static LoadBalancerMetrics& get() {
    static LoadBalancerMetrics m;
    return m;
  }
  void set(const std::string& ns, const std::string& lb,
           const std::map<std::string, lbr::TargetCounts>& counts) {
    std::lock_guard l(mu_);
    auto& known = groups_[ns + "/" + lb];
    for (const auto& g : known)
      if (!counts.contains(g)) drop(ns, lb, g);
    known.clear();
    for (const auto& [group, c] : counts) {
      known.insert(group);
      const std::pair<const char*, int> states[] = {{"initial", c.initial},
                                                    {"healthy", c.healthy},
                                                    {"unhealthy", c.unhealthy},
                                                    {"draining", c.draining},
                                                    {"unused", c.unused}};
      for (const auto& [state, n] : states)
        targets_
            ->Add({{"namespace", ns},
                   {"loadbalancer", lb},
                   {"target_group", group},
                   {"state", state}})
            .Set(n);
    }
  }
  void outcomes(const std::string& ns, const std::string& lb,
                const std::map<std::string, std::map<std::string, int>>& byGroup) {
    for (const auto& [group, outcomes] : byGroup)
      for (const auto& [outcome, n] : outcomes)
        checks_
            ->Add({{"namespace", ns},
                   {"loadbalancer", lb},
                   {"target_group", group},
                   {"outcome", outcome}})
            .Increment(n);
  }
  void latency(const std::string& ns, const std::string& lb, double seconds) {
    latency_
        ->Add({{"namespace", ns}, {"loadbalancer", lb}},
              prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25, 0.5, 1, 2.5, 5, 10, 30})
        .Observe(seconds);
  }
  void forget(const std::string& ns, const std::string& lb) {
    std::lock_guard l(mu_);
    for (const auto& g : groups_[ns + "/" + lb]) drop(ns, lb, g);
    groups_.erase(ns + "/" + lb);
    const prometheus::Labels l2{{"namespace", ns}, {"loadbalancer", lb}};
    if (latency_->Has(l2))
      latency_->Remove(&latency_->Add(l2, prometheus::Histogram::BucketBoundaries{}));
  }

 private:
  void drop(const std::string& ns, const std::string& lb, const std::string& group) {
    for (const char* state : {"initial", "healthy", "unhealthy", "draining", "unused"}) {
      const prometheus::Labels l{
          {"namespace", ns}, {"loadbalancer", lb}, {"target_group", group}, {"state", state}};
      if (targets_->Has(l)) targets_->Remove(&targets_->Add(l));
    }
    for (const char* outcome : {"pass", "timeout", "response_code_mismatch", "failed"}) {
      const prometheus::Labels l{
          {"namespace", ns}, {"loadbalancer", lb}, {"target_group", group}, {"outcome", outcome}};
      if (checks_->Has(l)) checks_->Remove(&checks_->Add(l));
    }
  }
  prometheus::Family<prometheus::Gauge>* targets_ =
      &prometheus::BuildGauge()
           .Name("kubec2_loadbalancer_targets")
           .Help("Targets of a LoadBalancer's target group, by ELB target state.")
           .Register(*kube::metrics::registry());
  prometheus::Family<prometheus::Counter>* checks_ =
      &prometheus::BuildCounter()
           .Name("kubec2_loadbalancer_health_checks_total")
           .Help(
               "Health checks of a LoadBalancer's targets, by outcome (pass, timeout, "
               "response_code_mismatch, failed).")
           .Register(*kube::metrics::registry());
  prometheus::Family<prometheus::Histogram>* latency_ =
      &prometheus::BuildHistogram()
           .Name("kubec2_loadbalancer_health_check_duration_seconds")
           .Help("Time from a health check's start to its answer, timeout or failure.")
           .Register(*kube::metrics::registry());
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> groups_;
};

// What the controller keeps of one load balancer between reconciles, and
// the check results waiting for its next reconcile.
struct Memory {
  std::string uid;
  lbr::TrackedTargets tracked;
  std::set<std::string> probeKeys;  // what the prober checks for it
  bool serviceRefused = false;      // its last Service apply: 422 on spec.ports
};

// How long a certificate Secret's check is trusted: a GET per HTTPS
// listener at most this often (health-check results reconcile a load
// balancer every few seconds), and a Secret created meanwhile is seen
// within it (with the plan's requeue).
constexpr std::chrono::seconds kCertificateCheckTtl{30};

// Whether a Secret holds a certificate; only the keys' presence is read,
// and nothing of it is kept or logged.
lbr::CertificateCheck certificateOf(const std::optional<json>& secret) {
  if (!secret) return lbr::CertificateCheck::NotFound;
  const json data = secret->value("data", json::object());
  auto has = [&](const char* k) {
    return data.contains(k) && data[k].is_string() &&
           !data[k].get_ref<const std::string&>().empty();
  };
  return has("tls.crt") && has("tls.key") ? lbr::CertificateCheck::Found
                                          : lbr::CertificateCheck::Incomplete;
}

std::string probeKey(const std::string& ns, const std::string& lb, const std::string& group,
                     const std::string& instance) {
  return ns + "/" + lb + "/" + group + "/" + instance;
}

kube::ProbeTarget probeOf(const lbr::HealthCheckTarget& t) {
  kube::ProbeTarget p;
  p.kind = t.settings.protocol == "TCP"     ? kube::ProbeTarget::Kind::Tcp
           : t.settings.protocol == "HTTPS" ? kube::ProbeTarget::Kind::Https
                                            : kube::ProbeTarget::Kind::Http;
  p.host = t.ip;
  p.port = static_cast<int>(t.settings.port);
  p.path = t.settings.path;
  p.interval = t.settings.interval;
  p.timeout = t.settings.timeout;
  return p;
}

class LoadBalancerReconciler final : public kube::Reconciler {
 public:
  struct Sources {
    kube::Informer<v1::LoadBalancer>& loadBalancers;
    kube::Informer<v1::Instance>& instances;
    kube::Informer<kube::RawObject>& services;
    kube::Informer<kube::RawObject>& slices;
    kube::Informer<kube::RawObject>* ingresses;  // null when not served
    kube::Informer<v1::ScalingGroup>& scalingGroups;
  };

  LoadBalancerReconciler(kube::Client& client, Sources s, kube::Recorder& events,
                         std::shared_ptr<kube::Channel> wake, lbr::DiscoveryVersion discovery,
                         const LoadBalancerControllerOptions& opts)
      : s_(s),
        client_(client),
        wake_(std::move(wake)),
        discovery_(discovery),
        ingressClass_(opts.ingressClass),
        executor_(client, events, opts.fieldManager),
        prober_(std::make_shared<kube::Prober>(
            [this](const kube::ProbeResult& r) { onResult(r); },
            kube::Prober::Options{.name = "loadbalancer-health-checks"})) {}

  std::shared_ptr<kube::Prober> prober() const { return prober_; }

  kube::Result reconcile(const kube::Request& req, const kube::ReconcileContext& ctx) override {
    const std::string key = req.key();
    const auto lb = fetchSubject(s_.loadBalancers, req, executor_);
    if (!lb) {
      forget(key);
      LoadBalancerMetrics::get().forget(req.namespace_, req.name);
      return kube::Result::done();
    }

    lbr::LoadBalancerObservation o;
    o.loadBalancer = lb.get();
    o.now = ctx.clock.wallNow();
    o.discovery = discovery_;
    o.ingressClass = ingressClass_;
    o.ingressServed = s_.ingresses != nullptr;
    const auto instances = s_.instances.store().byNamespace(req.namespace_);
    for (const auto& i : instances) o.instances.push_back(i.get());
    const auto groups = s_.scalingGroups.store().byNamespace(req.namespace_);
    for (const auto& g : groups) o.scalingGroups.push_back(g.get());
    if (lb->spec.type.value_or("application") == "application")
      for (const auto& l : lb->spec.listeners)
        if (l.protocol == "HTTPS" && l.certificate)
          if (auto c = certificate(req.namespace_, l.certificate->name, o.now))
            o.certificates[l.certificate->name] = *c;

    std::optional<json> service, ingress;
    if (auto svc = s_.services.store().get(req.namespace_, req.name);
        svc && kube::isControlledBy(svc->metadata, lb->metadata.uid))
      service = svc->toJson();
    o.service = service ? &*service : nullptr;
    const auto serviceApplied = executor_.ledger().find(api::kServices, req.namespace_, req.name);
    o.serviceApplied = serviceApplied ? &*serviceApplied : nullptr;
    if (s_.ingresses != nullptr)
      if (auto ing = s_.ingresses->store().get(req.namespace_, req.name);
          ing && kube::isControlledBy(ing->metadata, lb->metadata.uid))
        ingress = ing->toJson();
    o.ingress = ingress ? &*ingress : nullptr;
    const auto ingressApplied = executor_.ledger().find(api::kIngresses, req.namespace_, req.name);
    o.ingressApplied = ingressApplied ? &*ingressApplied : nullptr;
    // The caches hold only objects labelled as a load balancer's: one of
    // this name they do not show (nor this process wrote) may be a user's.
    // Read it once before writing, so it is never taken over.
    if (o.service == nullptr && o.serviceApplied == nullptr)
      o.serviceNameTaken = takenByOther(api::kServices, *lb, service);
    if (s_.ingresses != nullptr && o.ingress == nullptr && o.ingressApplied == nullptr &&
        lb->spec.type.value_or("application") == "application")
      o.ingressNameTaken = takenByOther(api::kIngresses, *lb, ingress);
    if (service) o.service = &*service;
    if (ingress) o.ingress = &*ingress;
    const kube::Resource& sliceResource = reconcilers::endpointSlicesResource(discovery_);
    std::vector<json> slices;
    for (const auto& sl : s_.slices.store().byNamespace(req.namespace_))
      if (kube::isControlledBy(sl->metadata, lb->metadata.uid)) {
        slices.push_back(sl->toJson());
        if (auto rec = executor_.ledger().find(sliceResource, req.namespace_, sl->metadata.name))
          o.sliceApplied[sl->metadata.name] = *rec;
      }
    for (const auto& sl : slices) o.endpointSlices.push_back(&sl);

    // The memory and the results waiting: one reconcile per key at a time
    // (the work queue's rule), so what is taken here is this reconcile's.
    std::optional<lbr::TrackedTargets> tracked;
    std::set<std::string> oldKeys;
    {
      std::lock_guard l(mu_);
      if (auto it = memory_.find(key); it != memory_.end() && it->second.uid == lb->metadata.uid) {
        tracked = it->second.tracked;
        oldKeys = it->second.probeKeys;
        o.serviceRefused = it->second.serviceRefused;
      } else if (it != memory_.end()) {
        oldKeys = it->second.probeKeys;  // an object of the same name before
      }
      if (auto p = pending_.find(key); p != pending_.end()) {
        o.checks = std::move(p->second);
        pending_.erase(p);
      }
    }
    o.tracked = tracked ? &*tracked : nullptr;

    auto decision = lbr::planLoadBalancer(o);

    // The prober checks what the plan says, from now on.
    std::set<std::string> keys;
    for (const auto& c : decision.checks) {
      const std::string k = probeKey(req.namespace_, req.name, c.targetGroup, c.instance);
      try {
        prober_->upsert(k, probeOf(c));
        keys.insert(k);
      } catch (const std::invalid_argument& e) {
        // The webhook refuses such settings; one that got past it is not
        // checked (the target stays initial) rather than failing the reconcile.
        kube::log::warn("Health check not started", {{"target", k}, {"error", e.what()}});
      }
    }
    for (const auto& k : oldKeys)
      if (!keys.contains(k)) prober_->remove(k);
    {
      std::lock_guard l(mu_);
      memory_[key] = Memory{lb->metadata.uid, std::move(decision.tracked), std::move(keys)};
    }
    LoadBalancerMetrics::get().set(req.namespace_, req.name, decision.counts);
    LoadBalancerMetrics::get().outcomes(req.namespace_, req.name, decision.outcomes);

    const Subject subject{v1::LoadBalancer::resource(), lb->toJson()};
    try {
      return executor_.execute(subject, decision.plan, ctx);
    } catch (const kube::ApiError& e) {
      // Only the Service has spec.ports (slices have top-level ports, an
      // Ingress names service.port): the next plan replaces its ports.
      if (e.isInvalid() && std::string_view(e.what()).find("spec.ports") != std::string::npos) {
        std::lock_guard l(mu_);
        if (auto it = memory_.find(key); it != memory_.end()) it->second.serviceRefused = true;
      }
      throw;
    }
  }

 private:
  // The certificate Secret's state, checked at most every
  // kCertificateCheckTtl; nullopt when the server does not answer (not
  // checked: the plan takes it as found rather than guess).
  std::optional<lbr::CertificateCheck> certificate(const std::string& ns, const std::string& name,
                                                   Clock::time_point now) {
    const std::string key = ns + "/" + name;
    {
      std::lock_guard l(mu_);
      if (auto it = certificates_.find(key);
          it != certificates_.end() && now - it->second.second < kCertificateCheckTtl)
        return it->second.first;
    }
    try {
      const auto c = certificateOf(kube::getIfExists(client_, api::kSecrets, ns, name));
      std::lock_guard l(mu_);
      certificates_[key] = {c, now};
      return c;
    } catch (const kube::ApiError& e) {
      kube::log::warn("Reading a listener's certificate Secret failed",
                      {{"secret", key}, {"error", e.what()}});
      return std::nullopt;
    }
  }

  void forget(const std::string& key) {
    std::set<std::string> keys;
    {
      std::lock_guard l(mu_);
      if (auto it = memory_.find(key); it != memory_.end()) keys = std::move(it->second.probeKeys);
      memory_.erase(key);
      pending_.erase(key);
    }
    for (const auto& k : keys) prober_->remove(k);
  }

  // On the prober's thread: queue the result for the load balancer's next
  // reconcile and wake it (the work queue folds many wakes into one).
  void onResult(const kube::ProbeResult& r) {
    // namespace/lb/group/instance
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (parts.size() < 3) {
      const auto slash = r.key.find('/', start);
      if (slash == std::string::npos) return;
      parts.push_back(r.key.substr(start, slash - start));
      start = slash + 1;
    }
    lbr::RawCheck c;
    c.targetGroup = parts[2];
    c.instance = r.key.substr(start);
    c.at = r.at;
    c.detail = r.error;
    switch (r.outcome) {
      case kube::ProbeResult::Outcome::Answered:
        c.kind = lbr::RawCheck::Kind::Answered;
        c.httpStatus = static_cast<int>(r.httpStatus);
        break;
      case kube::ProbeResult::Outcome::Connected:
        c.kind = lbr::RawCheck::Kind::Connected;
        break;
      case kube::ProbeResult::Outcome::Timeout:
        c.kind = lbr::RawCheck::Kind::Timeout;
        break;
      default:
        c.kind = lbr::RawCheck::Kind::Failed;
        break;
    }
    const std::string key = parts[0] + "/" + parts[1];
    {
      std::lock_guard l(mu_);
      const auto m = memory_.find(key);
      if (m == memory_.end()) return;
      // The address checked: the target's as last planned.
      const auto g = m->second.tracked.find(c.targetGroup);
      if (g == m->second.tracked.end()) return;
      const auto t = g->second.find(c.instance);
      if (t == g->second.end()) return;
      c.ip = t->second.ip;
      pending_[key].push_back(std::move(c));
    }
    LoadBalancerMetrics::get().latency(parts[0], parts[1],
                                       std::chrono::duration<double>(r.latency).count());
    wake_->send({parts[0], parts[1]});
  }

  Sources s_;
  // Whether an object of the load balancer's name exists that it does not
  // control; one it controls (not in the cache yet) is returned in `own`.
  bool takenByOther(const kube::Resource& r, const v1::LoadBalancer& lb, std::optional<json>& own) {
    auto live = kube::getIfExists(client_, r, lb.metadata.namespace_, lb.metadata.name);
    if (!live) return false;
    if (kube::isControlledBy(*live, lb.metadata.uid)) {
      own = std::move(live);
      return false;
    }
    return true;
  }

  kube::Client& client_;
  std::shared_ptr<kube::Channel> wake_;
  lbr::DiscoveryVersion discovery_;
  std::string ingressClass_;
  PlanExecutor executor_;
  std::shared_ptr<kube::Prober> prober_;
  std::mutex mu_;
  std::map<std::string, Memory> memory_;                       // by key; guarded by mu_
  std::map<std::string, std::vector<lbr::RawCheck>> pending_;  // by key; guarded by mu_
  // Secret ns/name -> what was found and when; guarded by mu_.
  std::map<std::string, std::pair<lbr::CertificateCheck, Clock::time_point>> certificates_;
};

// The prober as a leader-only runnable that the manager stops; kept alive
// by the reconciler too.
class ProberRunnable final : public kube::Runnable {
 public:
  explicit ProberRunnable(std::shared_ptr<kube::Prober> p) : p_(std::move(p)) {}
  std::string name() const override { return p_->name(); }
  void start(std::stop_token stop) override { p_->start(stop); }
  bool needsLeaderElection() const override { return true; }

 private:
  std::shared_ptr<kube::Prober> p_;
};

// Slack after the deregistration delay before a terminating instance
// stops waiting for a load balancer that never marked it draining.
constexpr std::chrono::seconds kDrainSlack{30};
// The schema's (and ELB's) largest deregistrationDelaySeconds.
constexpr std::int64_t kMaxDeregistrationDelaySeconds = 3600;

std::optional<Deregistration> deregistrationOf(const kube::Informer<v1::LoadBalancer>& lbs,
                                               const kube::Informer<kube::RawObject>& slices,
                                               const v1::Instance& inst, Clock::time_point now) {
  if (!inst.metadata.deletionTimestamp) return std::nullopt;
  const auto deleted = kube::parseRfc3339Utc(*inst.metadata.deletionTimestamp).value_or(now);
  const std::string& ns = inst.metadata.namespace_;
  std::optional<Clock::time_point> until;
  std::vector<std::string> from;
  auto hold = [&](const v1::LoadBalancer& lb, const std::string& group,
                  std::optional<Clock::time_point> drainingUntil) {
    // A target group removed from spec while its targets drain keeps its
    // status entry but has no delay left to read: its drainingUntil says
    // (bounded by ELB's longest delay, 3600 s).
    std::int64_t delay = drainingUntil ? kMaxDeregistrationDelaySeconds : -1;
    for (const auto& g : lb.spec.targetGroups)
      if (g.name == group) delay = g.deregistrationDelaySeconds.value_or(300);
    if (delay <= 0) return;
    Clock::time_point t = deleted + std::chrono::seconds(delay) + kDrainSlack;
    if (drainingUntil) t = std::min(t, *drainingUntil);
    if (t <= now) return;
    until = until ? std::max(*until, t) : t;
    const std::string who = "LoadBalancer " + lb.metadata.name + " (target group " + group + ")";
    if (std::find(from.begin(), from.end(), who) == from.end()) from.push_back(who);
  };
  // Draining, as the load balancers' status says (with its end).
  for (const auto& lb : lbs.store().byNamespace(ns)) {
    if (!lb->status || !lb->status->targetGroups) continue;
    for (const auto& gs : *lb->status->targetGroups)
      for (const auto& ts : gs.targets.value_or(std::vector<v1::TargetHealth>{}))
        if (ts.instance == inst.metadata.name && ts.state == "draining")
          hold(*lb, gs.name,
               ts.drainingUntil ? kube::parseRfc3339Utc(*ts.drainingUntil) : std::nullopt);
  }
  // Still an endpoint that status does not report as drained or without
  // traffic: the load balancer has not seen the deletion yet, or has
  // written its slices but not yet its status (informers of two resources
  // deliver in no set order; on 1.20 a draining endpoint is only "not
  // ready").
  auto statusState = [](const v1::LoadBalancer& lb, const std::string& group,
                        const std::string& name) -> std::string {
    if (!lb.status || !lb.status->targetGroups) return "";
    for (const auto& gs : *lb.status->targetGroups)
      if (gs.name == group)
        for (const auto& ts : gs.targets.value_or(std::vector<v1::TargetHealth>{}))
          if (ts.instance == name) return ts.state;
    return "";
  };
  for (const auto& sl : slices.store().byNamespace(ns)) {
    const auto lbLabel = sl->metadata.labels.find(api::kLoadBalancerLabel);
    const auto tgLabel = sl->metadata.labels.find(api::kTargetGroupLabel);
    if (lbLabel == sl->metadata.labels.end() || tgLabel == sl->metadata.labels.end()) continue;
    const json slice = sl->toJson();
    bool listed = false;
    for (const auto& e : slice.value("endpoints", json::array())) {
      const json ref = e.value("targetRef", json::object());
      if (ref.value("name", "") != inst.metadata.name) continue;
      if (const std::string uid = ref.value("uid", ""); !uid.empty() && uid != inst.metadata.uid)
        continue;
      listed = true;
    }
    if (!listed) continue;
    const auto lb = lbs.store().get(ns, lbLabel->second);
    if (!lb) continue;
    const std::string state = statusState(*lb, tgLabel->second, inst.metadata.name);
    if (state == "" || state == "healthy") hold(*lb, tgLabel->second, {});
  }
  if (!until) return std::nullopt;
  return Deregistration{*until, kube::join(from)};
}

}  // namespace

DeregistrationLookup addLoadBalancerController(kube::Manager& mgr, kube::Recorder& events,
                                               const LoadBalancerControllerOptions& opts) {
  auto& client = mgr.client();
  const auto discovery = client.isServed("discovery.k8s.io", "v1", "endpointslices")
                             ? lbr::DiscoveryVersion::V1
                             : lbr::DiscoveryVersion::V1beta1;
  const bool ingressServed = client.isServed("networking.k8s.io", "v1", "ingresses");
  kube::log::info(
      "Load balancers' API versions",
      {{"endpointSlices", discovery == lbr::DiscoveryVersion::V1 ? "discovery.k8s.io/v1"
                                                                 : "discovery.k8s.io/v1beta1"},
       {"ingresses", ingressServed ? "networking.k8s.io/v1" : "not served"}});

  auto& lbs = mgr.informer<v1::LoadBalancer>(v1::LoadBalancer::resource());
  auto& instances = mgr.informer<v1::Instance>(v1::Instance::resource());
  auto& scalingGroups = mgr.informer<v1::ScalingGroup>(v1::ScalingGroup::resource());
  const std::string owned = std::string(api::kLoadBalancerLabel);  // label exists
  auto& services = mgr.informer<kube::RawObject>(api::kServices, {.labelSelector = owned});
  auto& slices = mgr.informer<kube::RawObject>(
      reconcilers::endpointSlicesResource(discovery),
      {.labelSelector = std::string("endpointslice.kubernetes.io/managed-by=") +
                        api::kEndpointSliceManagedByValue});
  kube::Informer<kube::RawObject>* ingresses =
      ingressServed ? &mgr.informer<kube::RawObject>(api::kIngresses, {.labelSelector = owned})
                    : nullptr;

  // An Instance's change concerns the load balancers of its namespace
  // (selectors and group membership are checked by the plan).
  auto loadBalancersOf = [&lbs](const kube::ObjectMeta& inst) {
    std::vector<kube::Request> out;
    for (const auto& lb : lbs.store().byNamespace(inst.namespace_))
      out.push_back({lb->metadata.namespace_, lb->metadata.name});
    return out;
  };

  // A ScalingGroup's change (created, AddToLoadBalancer suspended or
  // resumed) concerns the load balancers that name it.
  auto loadBalancersOfGroup = [&lbs](const kube::ObjectMeta& group) {
    std::vector<kube::Request> out;
    for (const auto& lb : lbs.store().byNamespace(group.namespace_))
      for (const auto& g : lb->spec.targetGroups)
        if (g.targets.scalingGroupRef && g.targets.scalingGroupRef->name == group.name) {
          out.push_back({lb->metadata.namespace_, lb->metadata.name});
          break;
        }
    return out;
  };

  auto wake = std::make_shared<kube::Channel>();
  auto reconciler = std::make_shared<LoadBalancerReconciler>(
      mgr.controllerClient("loadbalancer"),
      LoadBalancerReconciler::Sources{lbs, instances, services, slices, ingresses, scalingGroups},
      events, wake, discovery, opts);
  mgr.add(std::make_unique<ProberRunnable>(reconciler->prober()));

  kube::ControllerBuilder b(mgr, "loadbalancer");
  b.forResource(lbs)
      .watches(*wake)
      .watches(instances, loadBalancersOf)
      .watches(scalingGroups, loadBalancersOfGroup)
      .owns(services, "LoadBalancer", api::kApiVersion)
      .owns(slices, "LoadBalancer", api::kApiVersion);
  if (ingresses != nullptr) b.owns(*ingresses, "LoadBalancer", api::kApiVersion);
  b.complete(reconciler);
  return [&lbs, &slices](const v1::Instance& inst, Clock::time_point now) {
    return deregistrationOf(lbs, slices, inst, now);
  };
}

}  // namespace kubec2::controllers
