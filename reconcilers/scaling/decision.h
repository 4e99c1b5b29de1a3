// What every scaling policy decision reads and returns (reconcilers/scaling/):
// metric samples or the reason there are none, the group's capacity, the
// policy's remembered state and the time; a wanted capacity, the cause in
// words, the state to remember and a ScalingActive-style status. Pure: no
// I/O, no clock; the controller queries Prometheus, calls the policy
// functions (target_tracking.h, step_scaling.h, predictive.h), combines
// their answers (combine.h) and writes status.
//
// Units: times are system_clock time points and whole seconds; capacities
// are instance counts; metric values are in the metric's own unit (percent
// for CPU utilisation).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers::scaling {

namespace v1 = kubec2::api::v1alpha1;
using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using Seconds = std::chrono::seconds;

// One value of a metric at a time (a Prometheus sample).
struct Sample {
  TimePoint time{};
  double value = 0;
  bool operator==(const Sample&) const = default;
};

// Why a policy has no valid metric data. Whatever the cause, the policy
// holds the capacity: it never scales in and says why (ScalingActive
// False with reasonOf(cause)); other policies with valid data may still
// scale out.
enum class NoData {
  NotConfigured,  // no --prometheus-url: PrometheusNotConfigured
  Unreachable,    // connection refused, DNS, TLS: PrometheusUnreachable
  Timeout,        // no answer within the query timeout: PrometheusTimeout
  HttpError,      // an HTTP status other than 200, or status "error": PrometheusError
  Garbage,        // a body that is not Prometheus's JSON (truncated, too large): PrometheusGarbage
  NoSeries,       // the query returned no sample: MetricNoSeries
  NotANumber,     // NaN or +-Inf: MetricNotANumber
  Stale,          // the newest sample is older than the policy accepts: MetricStale
  // A request count policy (ALBRequestCountPerTarget, ALBRequestCount) with
  // no --request-count-metric: RequestCountMetricNotConfigured.
  RequestCountNotConfigured,
};

// The CamelCase reason for the ScalingActive condition, e.g. "PrometheusUnreachable".
std::string_view reasonOf(NoData cause);
// In words, e.g. "Prometheus is unreachable".
std::string_view describe(NoData cause);

// A policy's metric at one evaluation: the samples since the last one (in
// ascending time; at least one when there is data), or why there are none.
struct Metric {
  std::vector<Sample> samples;
  std::optional<NoData> noData;  // set: samples are ignored
  std::string detail;            // what the client saw, e.g. "HTTP 503 from Prometheus"

  static Metric of(std::vector<Sample> samples) { return Metric{std::move(samples), {}, {}}; }
  static Metric missing(NoData cause, std::string detail = {}) {
    return Metric{{}, cause, std::move(detail)};
  }
};

// The metric as a policy may use it at `now`: NaN and +-Inf samples are
// dropped (all of them: NotANumber), none left is NoSeries, samples from
// the future (clock skew of more than `maxAge`) are dropped, and a newest
// sample older than `maxAge` is Stale. The issue's "data older than a few
// intervals": the controller passes 3 evaluation intervals.
Metric checked(Metric metric, TimePoint now, Seconds maxAge);

// The group's capacity as the policies see it (status of the ScalingGroup).
struct GroupState {
  std::int64_t inService = 0;  // running, past warmup, not terminating: they make the metric
  std::int64_t warming = 0;    // launched and within warmup: not in the metric, counted as
                               // capacity toward a scale-out in progress
  std::int64_t desired = 0;    // status.desiredCapacity, the capacity in force
  std::int64_t minSize = 0;    // status.minSize, the minimum in force
  std::int64_t maxSize = 0;    // status.maxSize, the maximum in force
  // How long a launch takes to count in the metric (launch to in service,
  // plus warmup), as the controller observed it lately; 0 when unknown.
  // Target tracking extrapolates the load's trend over this time.
  Seconds timeToInService{0};
};

// A ScalingActive-style status: whether the policy can read its metric and
// act, a CamelCase reason and a message.
struct PolicyStatus {
  bool active = true;
  std::string reason;  // "ValidMetric", "PrometheusUnreachable", "ForecastOnly", ...
  std::string message;
  bool operator==(const PolicyStatus&) const = default;
};

// The forecast of a predictive policy: load and capacity per step from
// `start` (bounded: at most kMaxForecastPoints points).
struct Forecast {
  TimePoint start{};
  Seconds step{0};
  std::vector<double> load;            // forecast load, in the load metric's unit
  std::vector<std::int64_t> capacity;  // instances for that load at the target value
  bool operator==(const Forecast&) const = default;
};
inline constexpr std::size_t kMaxForecastPoints = 48 * 12;  // 48 h at 5 minutes

// A load estimate kept by target tracking for its trend and its scale-in
// window: capacity units (instances at the target value) at a time.
struct LoadPoint {
  TimePoint time{};
  double load = 0;
  bool operator==(const LoadPoint&) const = default;
};
inline constexpr std::size_t kMaxLoadPoints = 96;

// What a policy remembers between evaluations. The controller keeps it
// (toJson/fromJson) beside the policy's entry in status.policies and hands
// it back; a default-constructed memory is a policy seen for the first
// time. Bounded: at most kMaxLoadPoints load points and one forecast.
struct PolicyMemory {
  std::optional<TimePoint> lastEvaluation;     // the end of the last evaluation period counted
  std::optional<TimePoint> aboveSince;         // start of the breach asking for more capacity
  std::optional<TimePoint> belowSince;         // start of the breach allowing less capacity
  std::optional<TimePoint> lastScaleOut;       // when this policy last raised the capacity
  std::optional<TimePoint> lastScaleIn;        // when this policy last lowered the capacity
  std::optional<std::int64_t> lastScaleOutTo;  // the capacity that scale-out set (step warmup)
  std::vector<LoadPoint> loads;                // target tracking: recent load estimates
  std::optional<Forecast> forecast;            // predictive: the forecast in force
  // Predictive: the history last proved shorter than minHistory; the next
  // history query waits until it will be long enough, or a refresh period
  // at most (a group without history: hourly), not every evaluation.
  std::optional<TimePoint> historyLongEnoughAt;
  bool operator==(const PolicyMemory&) const = default;

  nlohmann::json toJson() const;
  // Never throws: a memory that cannot be read is a fresh one (the policy
  // starts counting periods again, which only delays it).
  static PolicyMemory fromJson(const nlohmann::json& j);
};

// The gap rule (docs/scaling-policies.md, "Restarts and gaps"; the
// user's restart scaled 7 -> 2 on a 40 s wait 19 s after coming back). A
// policy's memory says what it observed up to memory.lastEvaluation. When
// the next evaluation comes more than kGapIntervals evaluation intervals
// later (an operator restarted or killed, a leader hand-over, a controller
// that did not evaluate; a clock set back counts too), nothing observed
// the time between: it must not count toward a scale-in wait, and the load
// in it is unknown, not low. So after a gap a wait that would end in a
// scale-in starts again at `now` and runs its whole length on observed
// evaluations. A scale-out is not delayed by it (the load in the gap may
// as well have been high). Why 3: a late evaluation (a busy work queue,
// a slow Prometheus answer) is not a gap, and 3 intervals is also the age
// at which checked() calls a sample stale. A restart is always a gap: the
// status it goes on from may lag by up to 10 intervals (policies.h,
// persistEvery) before the downtime is even counted. A Prometheus outage
// is not one: the policy evaluated and held through it, and holding
// already ends a breach.
inline constexpr int kGapIntervals = 3;

// Whether `memory` ends with a gap before `now`, at evaluations every
// `interval` (a policy seen for the first time: no; interval 0: never).
bool unobservedGap(const PolicyMemory& memory, TimePoint now, Seconds interval);

// One policy's answer at one evaluation.
struct Decision {
  std::string policy;  // the policy's name
  // The capacity the policy wants now, nullopt when it has no opinion (a
  // step policy whose alarm is not breached, a policy without data). A
  // value below the capacity in force asks for scale-in only when
  // `scaleIn` is set; otherwise it is a floor (the combination never goes
  // below it).
  std::optional<std::int64_t> wanted;
  bool scaleIn = false;  // this policy votes for scale-in to `wanted`
  bool holds = false;    // no valid data: the combination must not scale in
  std::string cause;     // "target tracking cpu-60: average CPU 82% above target 60%, 4 -> 6"
  PolicyMemory memory;   // to remember until the next evaluation
  PolicyStatus status;
  std::optional<double> metricValue;  // status.policies[].metricValue
  std::optional<bool> alarmBreached;  // step scaling: status.policies[].alarmBreached
  // Predictive with IncreaseMaxCapacity: the maximum it needs in force.
  std::optional<std::int64_t> maxSizeWanted;
  // When the policy wants to be evaluated again at the latest (predictive:
  // the next forecast step), nullopt for the controller's interval.
  std::optional<TimePoint> nextEvaluation;
};

// "4 -> 6" style formatting of a capacity change, shared by causes.
std::string arrow(std::int64_t from, std::int64_t to);
// A number as people read it in causes: "82", "0.5", "1200000".
std::string num(double v);

}  // namespace kubec2::reconcilers::scaling
