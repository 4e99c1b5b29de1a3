#include "reconcilers/scaling/decision.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

namespace kubec2::reconcilers::scaling {

std::string_view reasonOf(NoData cause) {
  switch (cause) {
    case NoData::NotConfigured:
      return "PrometheusNotConfigured";
    case NoData::Unreachable:
      return "PrometheusUnreachable";
    case NoData::Timeout:
      return "PrometheusTimeout";
    case NoData::HttpError:
      return "PrometheusError";
    case NoData::Garbage:
      return "PrometheusGarbage";
    case NoData::NoSeries:
      return "MetricNoSeries";
    case NoData::NotANumber:
      return "MetricNotANumber";
    case NoData::Stale:
      return "MetricStale";
    case NoData::RequestCountNotConfigured:
      return "RequestCountMetricNotConfigured";
  }
  return "MetricUnavailable";
}

std::string_view describe(NoData cause) {
  switch (cause) {
    case NoData::NotConfigured:
      return "no Prometheus is configured (--prometheus-url)";
    case NoData::Unreachable:
      return "Prometheus is unreachable";
    case NoData::Timeout:
      return "Prometheus did not answer within the timeout";
    case NoData::HttpError:
      return "Prometheus answered with an error";
    case NoData::Garbage:
      return "Prometheus's answer could not be read";
    case NoData::NoSeries:
      return "the query returned no sample";
    case NoData::NotANumber:
      return "the metric is NaN or infinite";
    case NoData::Stale:
      return "the newest sample is too old";
    case NoData::RequestCountNotConfigured:
      return "the operator has no request count metric (--request-count-metric)";
  }
  return "the metric is unavailable";
}

Metric checked(Metric metric, TimePoint now, Seconds maxAge) {
  if (metric.noData) return metric;
  const bool hadSamples = !metric.samples.empty();
  std::erase_if(metric.samples, [](const Sample& s) { return !std::isfinite(s.value); });
  if (metric.samples.empty()) {
    return Metric::missing(hadSamples ? NoData::NotANumber : NoData::NoSeries, metric.detail);
  }
  std::erase_if(metric.samples, [&](const Sample& s) { return s.time > now + maxAge; });
  if (metric.samples.empty()) return Metric::missing(NoData::Stale, "samples from the future");
  std::sort(metric.samples.begin(), metric.samples.end(),
            [](const Sample& a, const Sample& b) { return a.time < b.time; });
  if (now - metric.samples.back().time > maxAge) {
    return Metric::missing(NoData::Stale, metric.detail);
  }
  return metric;
}

bool unobservedGap(const PolicyMemory& memory, TimePoint now, Seconds interval) {
  if (!memory.lastEvaluation || interval.count() <= 0) return false;
  return now < *memory.lastEvaluation || now - *memory.lastEvaluation > interval * kGapIntervals;
}

std::string arrow(std::int64_t from, std::int64_t to) {
  return std::to_string(from) + " -> " + std::to_string(to);
}

std::string num(double v) {
  char buf[64];
  if (std::fabs(v) >= 100 || v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (std::fabs(v) >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2g", v);
  }
  return buf;
}

namespace {

std::int64_t millisOf(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint timeOf(std::int64_t millis) {
  return TimePoint{std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds{millis})};
}
void putTime(nlohmann::json& j, const char* key, const std::optional<TimePoint>& t) {
  if (t) j[key] = millisOf(*t);
}
std::optional<TimePoint> getTime(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return timeOf(it->get<std::int64_t>());
}

}  // namespace

// Times are kept as milliseconds since the epoch: compact, exact for the
// second-resolution times the controller uses, and stable across versions.
nlohmann::json PolicyMemory::toJson() const {
  nlohmann::json j = nlohmann::json::object();
  putTime(j, "lastEvaluation", lastEvaluation);
  putTime(j, "aboveSince", aboveSince);
  putTime(j, "belowSince", belowSince);
  putTime(j, "lastScaleOut", lastScaleOut);
  putTime(j, "lastScaleIn", lastScaleIn);
  putTime(j, "historyLongEnoughAt", historyLongEnoughAt);
  if (lastScaleOutTo) j["lastScaleOutTo"] = *lastScaleOutTo;
  if (!loads.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& p : loads) a.push_back({millisOf(p.time), p.load});
    j["loads"] = std::move(a);
  }
  if (forecast) {
    j["forecast"] = {{"start", millisOf(forecast->start)},
                     {"stepSeconds", forecast->step.count()},
                     {"load", forecast->load},
                     {"capacity", forecast->capacity}};
  }
  return j;
}

PolicyMemory PolicyMemory::fromJson(const nlohmann::json& j) {
  PolicyMemory m;
  if (!j.is_object()) return m;
  try {
    m.lastEvaluation = getTime(j, "lastEvaluation");
    m.aboveSince = getTime(j, "aboveSince");
    m.belowSince = getTime(j, "belowSince");
    m.lastScaleOut = getTime(j, "lastScaleOut");
    m.lastScaleIn = getTime(j, "lastScaleIn");
    m.historyLongEnoughAt = getTime(j, "historyLongEnoughAt");
    if (const auto it = j.find("lastScaleOutTo"); it != j.end() && it->is_number_integer()) {
      m.lastScaleOutTo = it->get<std::int64_t>();
    }
    if (const auto it = j.find("loads"); it != j.end() && it->is_array()) {
      for (const auto& p : *it) {
        if (m.loads.size() >= kMaxLoadPoints) break;
        m.loads.push_back({timeOf(p.at(0).get<std::int64_t>()), p.at(1).get<double>()});
      }
    }
    if (const auto it = j.find("forecast"); it != j.end() && it->is_object()) {
      Forecast f;
      f.start = timeOf(it->at("start").get<std::int64_t>());
      f.step = Seconds{it->at("stepSeconds").get<std::int64_t>()};
      f.load = it->at("load").get<std::vector<double>>();
      f.capacity = it->at("capacity").get<std::vector<std::int64_t>>();
      if (f.load.size() > kMaxForecastPoints) f.load.resize(kMaxForecastPoints);
      if (f.capacity.size() > kMaxForecastPoints) f.capacity.resize(kMaxForecastPoints);
      m.forecast = std::move(f);
    }
  } catch (const std::exception&) {
    return PolicyMemory{};
  }
  return m;
}

}  // namespace kubec2::reconcilers::scaling
