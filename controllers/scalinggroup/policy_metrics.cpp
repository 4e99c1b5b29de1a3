#include "controllers/scalinggroup/policy_metrics.h"

#include <algorithm>
#include <set>

#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include "api/target_health.h"
#include "reconcilers/scaling/predictive.h"
#include "reconcilers/scalinggroup/members.h"
#include "runtime/informer.h"
#include "runtime/log.h"
#include "runtime/manager.h"
#include "runtime/metrics.h"
#include "runtime/runnable.h"

namespace kubec2::controllers {
namespace {

namespace rec = kubec2::reconcilers;
using Time = std::chrono::system_clock::time_point;

// A Prometheus timestamp (Unix seconds) as a time point.
Time fromUnix(double seconds) {
  return Time{std::chrono::duration_cast<Time::duration>(std::chrono::duration<double>(seconds))};
}

// The oldest timestamp of an answer's samples; nullopt for none.
std::optional<Time> oldestOf(const std::vector<kube::prom::Sample>& samples) {
  std::optional<Time> oldest;
  for (const auto& s : samples)
    if (!oldest || fromUnix(s.time) < *oldest) oldest = fromUnix(s.time);
  return oldest;
}

// The group's policies, without copying them.
const std::vector<v1::ScalingPolicy>& policiesOf(const v1::ScalingGroup& g) {
  static const std::vector<v1::ScalingPolicy> none;
  return g.spec.scalingPolicies ? *g.spec.scalingPolicies : none;
}

bool enabled(const v1::ScalingPolicy& p) {
  return p.enabled.value_or(true) && (p.targetTracking || p.stepScaling);
}

bool enabledPredictive(const v1::ScalingPolicy& p) {
  return p.enabled.value_or(true) && p.predictive.has_value();
}

// Whether predictive policy `p` of `g` needs a new forecast at `now`.
bool forecastDue(const v1::ScalingGroup& g, const v1::ScalingPolicy& p, Time now) {
  namespace sc = kubec2::reconcilers::scaling;
  if (g.status && g.status->policies)
    for (const auto& s : *g.status->policies)
      if (s.name == p.name && s.memory)
        return sc::forecastDue(sc::PolicyMemory::fromJson(*s.memory), now);
  return true;
}

// The range query's answer as a history: every series' points (a custom
// load query should return one; several are taken as they come, the
// forecast keeps each bin's highest).
rec::HistoryReading historyOf(const std::vector<const kube::prom::Series*>& series,
                              const std::string& what) {
  rec::HistoryReading h;
  for (const auto* s : series)
    for (const auto& [t, v] : s->points) h.samples.emplace_back(fromUnix(t), v);
  std::sort(h.samples.begin(), h.samples.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (h.samples.empty()) {
    h.reason = "NoSeries";
    h.message = "Prometheus has no history of the " + what;
  }
  return h;
}

rec::HistoryReading historyFailed(const std::string& reason, const std::string& message) {
  rec::HistoryReading h;
  h.reason = reason;
  h.message = message;
  return h;
}

rec::MetricReading failed(const std::string& reason, const std::string& message) {
  rec::MetricReading r;
  r.reason = reason;
  r.message = message;
  return r;
}

// Why a request count policy has no reading without --request-count-metric.
constexpr const char* kRequestCountNotConfigured = "RequestCountMetricNotConfigured";
constexpr const char* kRequestCountHowTo =
    "name the per-instance request counter in Prometheus with --request-count-metric "
    "(docs/scaling-policies.md, \"Request counts\")";

// A namespace query's answer: raw rates by VMI name and the oldest sample's
// time, or the failure.
struct NamespaceAnswer {
  std::map<std::string, double> byInstance;
  std::optional<Time> sampleTime;
  std::optional<rec::MetricReading> failure;
};

// kubec2_scaling_evaluation_duration_seconds: one observation per evaluator
// pass that had groups with enabled policies, covering the informer lookups,
// the namespace queries and every group's readings; not the status writes,
// which the reconciler makes after the pass. Registered like
// kubec2_prometheus_query_duration_seconds (runtime/prometheus_client.cpp).
::prometheus::Histogram& evaluationDuration() {
  static ::prometheus::Histogram& h =
      ::prometheus::BuildHistogram()
          .Name("kubec2_scaling_evaluation_duration_seconds")
          .Help(
              "Seconds per scaling policy evaluation pass: the Prometheus queries and every "
              "group's readings.")
          .Register(*kube::metrics::registry())
          .Add({}, ::prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5, 1, 2.5, 5, 10, 30});
  return h;
}

}  // namespace

void PolicyReadingsStore::put(const std::string& key, GroupReadings r) {
  std::lock_guard l(mu_);
  readings_[key] = std::make_shared<const GroupReadings>(std::move(r));
}

std::shared_ptr<const GroupReadings> PolicyReadingsStore::get(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = readings_.find(key);
  if (it == readings_.end()) return nullptr;
  return it->second;
}

void PolicyReadingsStore::erase(const std::string& key) {
  std::lock_guard l(mu_);
  readings_.erase(key);
}

std::map<std::string, GroupReadings> evaluatePolicies(
    const std::vector<const v1::ScalingGroup*>& groups,
    const std::map<std::string, std::vector<const v1::Instance*>>& instancesByGroup,
    const QueryFunction& query, const RangeQueryFunction& queryRange, Time now,
    std::chrono::seconds window, const std::string& requestCountMetric) {
  // The queries first: one per namespace and metric, whatever the number of groups.
  std::map<std::pair<std::string, rec::InstanceMetric>, NamespaceAnswer> answers;
  for (const auto* g : groups)
    for (const auto& p : policiesOf(*g))
      if (enabled(p))
        if (auto m = rec::metricOf(p); m && m->predefined)
          answers.try_emplace({g->metadata.namespace_, *m->predefined});
  for (auto& [k, answer] : answers) {
    const auto& [ns, metric] = k;
    const auto q = rec::namespaceQuery(metric, ns, window, requestCountMetric);
    if (!q) {
      answer.failure = failed(kRequestCountNotConfigured, kRequestCountHowTo);
      continue;
    }
    try {
      const auto result = query(*q);
      for (const auto& s : result.samples) {
        auto it = s.labels.find("name");
        if (it != s.labels.end()) answer.byInstance[it->second] = s.value;
      }
      answer.sampleTime = oldestOf(result.samples);
    } catch (const kube::prom::QueryError& e) {
      answer.failure = failed("Prometheus" + e.reason(), e.what());
    }
  }

  // Predictive history: only for the policies whose forecast is due; one
  // range query per namespace and predefined pair, whatever the number of
  // due groups there.
  namespace sc = kubec2::reconcilers::scaling;
  const double end = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double start = end - static_cast<double>(sc::kPredictiveTuning.history.count());
  const double step = static_cast<double>(sc::kPredictiveTuning.step.count());
  struct HistoryAnswer {
    kube::prom::QueryResult result;
    std::optional<rec::HistoryReading> failure;
  };
  std::map<std::pair<std::string, rec::InstanceMetric>, HistoryAnswer> histories;
  std::map<std::string, std::vector<const v1::ScalingPolicy*>> duePredictive;  // by group key
  for (const auto* g : groups)
    for (const auto& p : policiesOf(*g))
      if (enabledPredictive(p) && forecastDue(*g, p, now)) {
        const auto l = rec::predictiveLoadOf(p);
        // A scalingQuery is refused by the policy (reconcilers/scalinggroup/
        // policies.cpp): no history to read for it.
        if (!l || l->scalingQuery) continue;
        duePredictive[kube::makeKey(g->metadata.namespace_, g->metadata.name)].push_back(&p);
        if (l->pair) histories.try_emplace({g->metadata.namespace_, *l->pair});
      }
  for (auto& [k, answer] : histories) {
    const auto& [ns, pair] = k;
    const auto q = rec::namespaceHistoryQuery(pair, ns, requestCountMetric);
    if (!q) {
      answer.failure = historyFailed(kRequestCountNotConfigured, kRequestCountHowTo);
      continue;
    }
    try {
      answer.result = queryRange(*q, start, end, step);
    } catch (const kube::prom::QueryError& e) {
      answer.failure = historyFailed("Prometheus" + e.reason(), e.what());
    }
  }

  std::map<std::string, GroupReadings> out;
  for (const auto* g : groups) {
    const std::string key = kube::makeKey(g->metadata.namespace_, g->metadata.name);
    GroupReadings& readings = out[key];
    readings.evaluatedAt = now;
    const auto health = rec::healthSettingsOf(g->spec);
    const api::TargetHealthIndex noTargets;
    std::vector<rec::Member> members;
    if (auto it = instancesByGroup.find(key); it != instancesByGroup.end())
      for (const auto* i : it->second) members.push_back(rec::memberOf(*i, health, noTargets, now));
    for (const auto& p : policiesOf(*g)) {
      if (!enabled(p)) continue;
      const auto metric = rec::metricOf(p);
      if (!metric) continue;
      if (!metric->predefined) {
        const std::string q =
            rec::expandCustomQuery(metric->customQuery, g->metadata.namespace_, g->metadata.name);
        try {
          const auto result = query(q);
          std::vector<double> values;
          for (const auto& s : result.samples) values.push_back(s.value);
          auto reading = rec::customReading(values, q);
          if (reading.value) reading.sampleTime = oldestOf(result.samples);
          readings.byPolicy[p.name] = std::move(reading);
        } catch (const kube::prom::QueryError& e) {
          readings.byPolicy[p.name] = failed("Prometheus" + e.reason(), e.what());
        }
        continue;
      }
      const auto& answer = answers.at({g->metadata.namespace_, *metric->predefined});
      if (answer.failure) {
        readings.byPolicy[p.name] = *answer.failure;
        continue;
      }
      // In service and past the policy's warmup: warming instances leave
      // the metric (they count as capacity in the policy's decision).
      // Past warmup and a whole rate() window in service (policies.h).
      const auto warmup = std::max(rec::warmupOf(p, g->spec), window);
      std::vector<rec::MeasuredInstance> measured;
      for (const auto& m : members) {
        if (m.lifecycle != rec::Lifecycle::InService || !m.inServiceSince) continue;
        if (*m.inServiceSince + warmup > now) continue;
        std::int64_t vcpu = 0;
        if (m.instance->status && m.instance->status->instanceType)
          vcpu = m.instance->status->instanceType->vCPU.value_or(0);
        measured.push_back({m.name, vcpu});
      }
      auto reading = rec::groupReading(*metric, answer.byInstance, measured, window);
      if (reading.value) reading.sampleTime = answer.sampleTime;
      readings.byPolicy[p.name] = std::move(reading);
    }
    if (auto due = duePredictive.find(key); due != duePredictive.end())
      for (const auto* p : due->second) {
        const auto load = rec::predictiveLoadOf(*p);
        if (!load) continue;
        if (!load->pair) {
          const std::string q =
              rec::expandCustomQuery(load->customQuery, g->metadata.namespace_, g->metadata.name);
          try {
            const auto r = queryRange(q, start, end, step);
            std::vector<const kube::prom::Series*> series;
            for (const auto& s : r.series) series.push_back(&s);
            readings.historyByPolicy[p->name] = historyOf(series, "custom load query " + q);
          } catch (const kube::prom::QueryError& e) {
            readings.historyByPolicy[p->name] = historyFailed("Prometheus" + e.reason(), e.what());
          }
          continue;
        }
        const auto& answer = histories.at({g->metadata.namespace_, *load->pair});
        if (answer.failure) {
          readings.historyByPolicy[p->name] = *answer.failure;
          continue;
        }
        std::vector<const kube::prom::Series*> mine;
        for (const auto& s : answer.result.series) {
          auto it = s.labels.find(std::string(rec::groupLabel()));
          if (it != s.labels.end() && it->second == g->metadata.name) mine.push_back(&s);
        }
        readings.historyByPolicy[p->name] =
            historyOf(mine, load->describe() + " of group " + g->metadata.name + " in " +
                                g->metadata.namespace_);
      }
  }
  return out;
}

void addPolicyMetricsEvaluator(kube::Manager& mgr, kube::Informer<v1::ScalingGroup>& groups,
                               kube::Informer<v1::Instance>& instances,
                               std::shared_ptr<PolicyReadingsStore> store, kube::Channel& wake,
                               PolicyMetricsOptions opts) {
  const auto window = rec::queryWindow(opts.interval, opts.scrapeInterval);
  kube::PeriodicOptions po;
  po.period = opts.interval;
  po.needsLeaderElection = true;
  auto prometheus = opts.prometheus;
  mgr.add(kube::makePeriodicRunnable(
      "scaling-policy-metrics",
      [&groups, &instances, store, &wake, prometheus, window,
       requestCountMetric = opts.requestCountMetric](const std::stop_token& stop) {
        if (!groups.hasSynced() || !instances.hasSynced())
          return kube::Next::after(std::chrono::seconds(1));
        const auto started = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<const v1::ScalingGroup>> keepGroups;
        std::vector<const v1::ScalingGroup*> withPolicies;
        for (const auto& g : groups.store().list()) {
          bool any = false;
          for (const auto& p : policiesOf(*g)) any = any || enabled(p) || enabledPredictive(p);
          if (!any) continue;
          keepGroups.push_back(g);
          withPolicies.push_back(g.get());
        }
        if (withPolicies.empty()) return kube::Next::period();
        std::set<std::string> namespaces;
        for (const auto* g : withPolicies) namespaces.insert(g->metadata.namespace_);
        std::vector<std::shared_ptr<const v1::Instance>> keepInstances;
        std::map<std::string, std::vector<const v1::Instance*>> byGroup;
        for (const auto& ns : namespaces)
          for (const auto& i : instances.store().byNamespace(ns)) {
            const auto* owner = i->metadata.controllerRef();
            if (owner == nullptr || owner->kind != "ScalingGroup") continue;
            keepInstances.push_back(i);
            byGroup[kube::makeKey(ns, owner->name)].push_back(i.get());
          }
        auto query = [&](const std::string& q) { return prometheus->query(q, std::nullopt, stop); };
        auto queryRange = [&](const std::string& q, double start, double end, double step) {
          return prometheus->queryRange(q, start, end, step, stop);
        };
        const auto now = std::chrono::system_clock::now();
        auto readings = evaluatePolicies(withPolicies, byGroup, query, queryRange, now, window,
                                         requestCountMetric);
        evaluationDuration().Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        for (auto& [key, r] : readings) {
          store->put(key, std::move(r));
          wake.send(kube::Request::fromKey(key));
        }
        return kube::Next::period();
      },
      po));
}

}  // namespace kubec2::controllers
