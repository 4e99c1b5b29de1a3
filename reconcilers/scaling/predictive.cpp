#include "reconcilers/scaling/predictive.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kubec2::reconcilers::scaling {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::int64_t secondsOf(TimePoint t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}

TimePoint timeOfSeconds(std::int64_t s) {
  return TimePoint{std::chrono::duration_cast<Clock::duration>(Seconds{s})};
}

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// The weekday of a UTC day number (days since 1970-01-01, a Thursday): 0 is Sunday.
std::size_t weekdayOf(std::int64_t day) {
  return static_cast<std::size_t>(((day + 4) % 7 + 7) % 7);
}

std::int64_t capacityFor(double load, double perInstance) {
  if (!(load > 0) || !(perInstance > 0)) return 0;
  return static_cast<std::int64_t>(std::ceil(load / perInstance - 1e-9));
}

// When a history whose oldest finite sample is that of `history` spans
// minHistory (forecastLoad counts whole bins from the oldest); far in the
// future without one.
TimePoint longEnoughAt(const std::vector<Sample>& history, const PredictiveTuning& tuning) {
  const std::int64_t step = std::max<std::int64_t>(60, tuning.step.count());
  std::optional<std::int64_t> earliest;
  for (const auto& s : history)
    if (std::isfinite(s.value)) {
      const std::int64_t b = floorDiv(secondsOf(s.time), step);
      earliest = earliest ? std::min(*earliest, b) : b;
    }
  if (!earliest) return TimePoint::max();
  return timeOfSeconds(*earliest * step + tuning.minHistory.count());
}

}  // namespace

std::optional<Forecast> forecastLoad(const std::vector<Sample>& history, TimePoint now,
                                     double loadPerInstanceAtTarget,
                                     const PredictiveTuning& tuning) {
  const std::int64_t step = std::max<std::int64_t>(60, tuning.step.count());
  const std::int64_t perDay = std::max<std::int64_t>(1, 86400 / step);
  const std::int64_t nowBin = floorDiv(secondsOf(now), step);
  const std::int64_t firstBin = nowBin - tuning.history.count() / step;
  const auto bins = static_cast<std::size_t>(nowBin - firstBin);  // bins before nowBin
  std::vector<double> peak(bins, kNaN);
  std::int64_t earliest = nowBin;
  for (const auto& s : history) {
    if (!std::isfinite(s.value)) continue;
    const std::int64_t b = floorDiv(secondsOf(s.time), step);
    if (b < firstBin || b >= nowBin) continue;
    auto& p = peak[static_cast<std::size_t>(b - firstBin)];
    p = std::isnan(p) ? s.value : std::max(p, s.value);
    earliest = std::min(earliest, b);
  }
  if ((nowBin - earliest) * step < tuning.minHistory.count()) return std::nullopt;

  // 2. The daily profile: per slot, the mean of the last up to 7 days.
  std::vector<double> profile(static_cast<std::size_t>(perDay), kNaN);
  for (std::int64_t slot = 0; slot < perDay; ++slot) {
    double sum = 0;
    int n = 0;
    for (std::int64_t b = nowBin - 1; b >= firstBin && n < 7; --b) {
      if (((b % perDay) + perDay) % perDay != slot) continue;
      const double v = peak[static_cast<std::size_t>(b - firstBin)];
      if (!std::isnan(v)) {
        sum += v;
        ++n;
      }
      b -= perDay - 1;  // the same slot a day earlier next
    }
    if (n > 0) profile[static_cast<std::size_t>(slot)] = sum / n;
  }
  auto profileAt = [&](std::int64_t b) {
    return profile[static_cast<std::size_t>(((b % perDay) + perDay) % perDay)];
  };

  // 3. Weekly seasonality, with a week of history.
  std::vector<double> weekday(7, 1.0);
  if ((nowBin - earliest) * step >= 7 * 86400) {
    std::vector<double> actual(7, 0), expected(7, 0);
    for (std::int64_t b = earliest; b < nowBin; ++b) {
      const double v = peak[static_cast<std::size_t>(b - firstBin)];
      const double e = profileAt(b);
      if (std::isnan(v) || std::isnan(e)) continue;
      const auto w = weekdayOf(floorDiv(b, perDay));
      actual[w] += v;
      expected[w] += e;
    }
    for (std::size_t w = 0; w < 7; ++w) {
      if (actual[w] > 0 && expected[w] > 0) {
        weekday[w] = std::clamp(actual[w] / expected[w], 0.5, 2.0);
      }
    }
  }
  auto seasonal = [&](std::int64_t b) {
    return profileAt(b) * weekday[weekdayOf(floorDiv(b, perDay))];
  };

  // 4. The level of the last 3 hours against the seasonal shape.
  double level = 1.0;
  {
    double actual = 0, expected = 0;
    for (std::int64_t b = std::max(earliest, nowBin - 3 * 3600 / step); b < nowBin; ++b) {
      const double v = peak[static_cast<std::size_t>(b - firstBin)];
      const double e = seasonal(b);
      if (std::isnan(v) || std::isnan(e)) continue;
      actual += v;
      expected += e;
    }
    if (actual > 0 && expected > 0) level = std::clamp(actual / expected, 0.8, 1.25);
  }

  // 5. The forecast, each bin the highest of itself and its neighbours.
  const auto points = std::min<std::size_t>(
      kMaxForecastPoints,
      static_cast<std::size_t>(std::max<std::int64_t>(1, tuning.horizon.count() / step)));
  std::vector<double> raw(points + 2, 0);
  for (std::size_t i = 0; i < points + 2; ++i) {
    const double v = seasonal(nowBin - 1 + static_cast<std::int64_t>(i)) * level;
    raw[i] = std::isnan(v) ? 0 : v;
  }
  Forecast f;
  f.start = timeOfSeconds(nowBin * step);
  f.step = Seconds{step};
  for (std::size_t i = 0; i < points; ++i) {
    const double v = std::max({raw[i], raw[i + 1], raw[i + 2]});
    f.load.push_back(v);
    f.capacity.push_back(capacityFor(v, loadPerInstanceAtTarget));
  }
  return f;
}

std::optional<Scheduled> scheduledAt(const Forecast& f, TimePoint now, Seconds buffer) {
  if (f.load.empty() || f.capacity.size() != f.load.size() || f.step.count() <= 0 ||
      now >= f.start + f.step * static_cast<long>(f.load.size()))
    return std::nullopt;
  std::optional<Scheduled> out;
  for (std::size_t i = 0; i < f.load.size(); ++i) {
    const TimePoint binStart = f.start + f.step * static_cast<long>(i);
    if (binStart + f.step <= now) continue;
    if (binStart > now + buffer) break;
    if (!out || f.capacity[i] > out->capacity)
      out = Scheduled{f.load[i], f.capacity[i], std::max(binStart, now)};
  }
  return out;
}

std::vector<HourPoint> hourly(const Forecast& f, TimePoint now, std::size_t maxHours) {
  std::vector<HourPoint> out;
  if (f.capacity.size() != f.load.size()) return out;
  for (std::size_t i = 0; i < f.load.size(); ++i) {
    const TimePoint binStart = f.start + f.step * static_cast<long>(i);
    if (binStart + f.step <= now) continue;
    const TimePoint hour = std::chrono::floor<std::chrono::hours>(binStart);
    if (out.empty() || out.back().hour != hour) {
      if (out.size() == maxHours) break;
      out.push_back({hour, f.load[i], f.capacity[i]});
    } else {
      out.back().load = std::max(out.back().load, f.load[i]);
      out.back().capacity = std::max(out.back().capacity, f.capacity[i]);
    }
  }
  return out;
}

bool forecastDue(const PolicyMemory& memory, TimePoint now, const PredictiveTuning& tuning) {
  if (!memory.forecast)
    // A clock set back by more than a refresh period queries again.
    return !memory.historyLongEnoughAt || now >= *memory.historyLongEnoughAt ||
           *memory.historyLongEnoughAt - now > tuning.refresh;
  return now - memory.forecast->start >= tuning.refresh || now < memory.forecast->start;
}

Decision decidePredictive(const std::string& name, const v1::PredictiveScaling& spec,
                          const Metric& history, double loadPerInstanceAtTarget,
                          const GroupState& group, const PolicyMemory& memory, TimePoint now,
                          const PredictiveTuning& tuning) {
  Decision d;
  d.policy = name;
  d.memory = memory;
  d.memory.lastEvaluation = now;
  const std::string who = "predictive " + name;
  std::string problem;
  const std::string tooShort = who + ": fewer than " +
                               std::to_string(tuning.minHistory.count() / 3600) +
                               " hours of the load's history; no forecast yet";
  if (history.noData) {
    problem = std::string(describe(*history.noData)) +
              (history.detail.empty() ? "" : " (" + history.detail + ")");
    d.status = {false, std::string(reasonOf(*history.noData)), who + ": " + problem};
  } else if (!history.samples.empty()) {
    auto f = forecastLoad(history.samples, now, loadPerInstanceAtTarget, tuning);
    if (f) {
      d.memory.forecast = std::move(f);
      d.memory.historyLongEnoughAt.reset();
    } else {
      d.memory.forecast.reset();
      d.memory.historyLongEnoughAt =
          std::min(now + tuning.refresh, longEnoughAt(history.samples, tuning));
      d.status = {false, "InsufficientHistory", tooShort};
      d.cause = d.status.message;
      return d;
    }
  }
  const auto& f = d.memory.forecast;
  if (!f && d.memory.historyLongEnoughAt && d.status.active) {
    // Between two history queries (a refresh apart): still too short.
    d.status = {false, "InsufficientHistory", tooShort};
    d.cause = d.status.message;
    return d;
  }
  if (!f || f->load.empty() || now >= f->start + f->step * static_cast<long>(f->load.size())) {
    if (d.status.active) {
      d.status = {false, "NoForecast", who + ": no forecast covers now"};
    } else {
      d.status.message += "; no forecast covers now";
    }
    d.cause = d.status.message;
    return d;
  }

  const Seconds buffer{spec.schedulingBufferSeconds.value_or(0)};
  const auto scheduled = scheduledAt(*f, now, buffer).value_or(Scheduled{0, 0, now});
  const std::int64_t capacity = scheduled.capacity;
  const double load = scheduled.load;
  const TimePoint peakAt = scheduled.at;
  d.metricValue = load;
  const std::string when =
      peakAt > now
          ? " in " + std::to_string(std::chrono::duration_cast<Seconds>(peakAt - now).count()) +
                " s"
          : " now";
  const std::string forecastWords =
      who + ": forecast load " + num(load) + when + ", capacity " + std::to_string(capacity);
  if (spec.mode.value_or("ForecastOnly") != "ForecastAndScale") {
    if (d.status.active) d.status = {true, "ForecastOnly", forecastWords + " (ForecastOnly)"};
    return d;
  }
  d.wanted = capacity;
  if (spec.maxCapacityBreachBehavior.value_or("HonorMaxCapacity") == "IncreaseMaxCapacity" &&
      capacity > group.maxSize) {
    const double bufferPercent = static_cast<double>(spec.maxCapacityBuffer.value_or(0));
    d.maxSizeWanted = static_cast<std::int64_t>(
        std::ceil(static_cast<double>(capacity) * (1 + bufferPercent / 100) - 1e-9));
  }
  d.cause = forecastWords + ", " + arrow(group.desired, std::max(group.desired, capacity));
  if (d.status.active) d.status = {true, "ForecastAndScale", forecastWords};
  d.nextEvaluation =
      f->start +
      f->step * static_cast<long>(
                    (std::chrono::duration_cast<Seconds>(now + buffer - f->start) / f->step) + 1) -
      buffer;
  return d;
}

}  // namespace kubec2::reconcilers::scaling
