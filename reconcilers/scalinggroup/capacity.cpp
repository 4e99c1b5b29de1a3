#include "reconcilers/scalinggroup/capacity.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <map>
#include <stdexcept>
#include <utility>

#include <date/date.h>
#include <date/tz.h>

#include "api/cron.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using std::chrono::seconds;

std::string num(std::int64_t n) {
  return std::to_string(n);
}

// An instant to the second as a time point; nullopt past what a time point
// holds (about 2262), which is never for a schedule.
std::optional<TimePoint> toTimePoint(date::sys_seconds t) {
  constexpr auto maxSeconds = std::chrono::duration_cast<seconds>(TimePoint::duration::max());
  constexpr auto minSeconds = std::chrono::duration_cast<seconds>(TimePoint::duration::min());
  const auto s = t.time_since_epoch();
  if (s >= maxSeconds || s <= minSeconds) return std::nullopt;
  return TimePoint{std::chrono::duration_cast<TimePoint::duration>(s)};
}

// An RFC 3339 time as a time point, saturated to the time point's range
// (a startTime in 9999 never comes; an endTime in 9999 never ends anything).
TimePoint saturated(const kube::Rfc3339Time& t) {
  const auto tp = toTimePoint(t.utc);
  if (!tp) return t.utc.time_since_epoch().count() > 0 ? TimePoint::max() : TimePoint::min();
  const auto room = TimePoint::max() - *tp;
  return std::chrono::duration_cast<TimePoint::duration>(t.fraction) < room
             ? *tp + std::chrono::duration_cast<TimePoint::duration>(t.fraction)
             : TimePoint::max();
}

std::tm civilOf(date::local_seconds t) {
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<seconds> hms{t - day};
  std::tm c{};
  c.tm_year = static_cast<int>(ymd.year()) - 1900;
  c.tm_mon = static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
  c.tm_mday = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.tm_hour = static_cast<int>(hms.hours().count());
  c.tm_min = static_cast<int>(hms.minutes().count());
  c.tm_sec = static_cast<int>(hms.seconds().count());
  c.tm_isdst = -1;
  return c;
}

date::local_seconds localOf(const std::tm& c) {
  const date::year_month_day ymd{date::year{c.tm_year + 1900},
                                 date::month{static_cast<unsigned>(c.tm_mon + 1)},
                                 date::day{static_cast<unsigned>(c.tm_mday)}};
  return date::local_days{ymd} + std::chrono::hours{c.tm_hour} + std::chrono::minutes{c.tm_min};
}

// The instant a wall-clock time stands for in `zone`: after a gap (spring
// forward) the first instant after it, in an overlap (fall back) the first
// occurrence.
date::sys_seconds firstInstantOf(const date::time_zone& zone, date::local_seconds local) {
  const date::local_info info = zone.get_info(local);
  if (info.result == date::local_info::nonexistent) return info.second.begin;
  return date::sys_seconds{local.time_since_epoch() - info.first.offset};
}

// A scheduled action, read.
struct Schedule {
  std::optional<api::CronSchedule> cron;  // absent: one-off at start
  const date::time_zone* zone = nullptr;
  std::optional<TimePoint> start;
  std::optional<TimePoint> end;

  // The first time strictly after `after`, or nullopt.
  std::optional<TimePoint> next(TimePoint after) const {
    if (!cron) {
      if (!start || *start == TimePoint::max()) return std::nullopt;
      const TimePoint at = std::chrono::floor<seconds>(*start);
      return at > after ? std::optional<TimePoint>(at) : std::nullopt;
    }
    if (start && *start == TimePoint::max()) return std::nullopt;
    TimePoint from = after;
    if (start && *start > after + seconds{1}) from = *start - seconds{1};
    // Walk the civil minutes after `from`'s; each stands for its first
    // instant, which never decreases, so the first one past `from` is it.
    // In an overlap `from` may lie in the repeated hour, whose minutes have
    // already had their (first) instant: they are passed over.
    std::tm civil = civilOf(zone->to_local(date::floor<seconds>(from)));
    for (;;) {
      const std::optional<std::tm> n = cron->next(civil);
      if (!n) return std::nullopt;
      civil = *n;
      const std::optional<TimePoint> at = toTimePoint(firstInstantOf(*zone, localOf(civil)));
      if (!at || (end && *at >= *end)) return std::nullopt;
      if (*at > after && (!start || *at >= *start)) return at;
    }
  }

  // The latest time at or before `now` and not before `first` (a nextTime
  // that has come): the run a late run of the action stands for. nullopt
  // when the action, as edited since `first` was computed, has none.
  std::optional<TimePoint> latestBy(TimePoint first, TimePoint now) const {
    if (!cron) {
      if (!start || *start == TimePoint::max()) return std::nullopt;
      const TimePoint at = std::chrono::floor<seconds>(*start);
      return at <= now ? std::optional<TimePoint>(at) : std::nullopt;
    }
    // next(a) <= now holds for a below some point and not above it: find
    // the last second it holds for; its next time is the latest.
    auto comes = [&](TimePoint a) {
      const auto n = next(a);
      return n && *n <= now;
    };
    TimePoint lo = std::chrono::floor<seconds>(first) - seconds{1};
    TimePoint hi = std::chrono::floor<seconds>(now);  // next(hi) >= hi + 1s > now
    if (!comes(lo)) return std::nullopt;
    while (hi - lo > seconds{1}) {
      const TimePoint mid = lo + std::chrono::floor<seconds>((hi - lo) / 2);
      (comes(mid) ? lo : hi) = mid;
    }
    return next(lo);
  }
};

// Throws std::invalid_argument in words.
Schedule readSchedule(const v1::ScheduledAction& a) {
  Schedule s;
  if (a.recurrence) {
    try {
      s.cron = api::CronSchedule::parse(*a.recurrence);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("recurrence \"" + *a.recurrence +
                                  "\" cannot be read: " + e.what());
    }
  }
  const std::string zone = a.timeZone.value_or("UTC");
  try {
    s.zone = date::locate_zone(zone);
  } catch (const std::exception&) {
    // Not found, or no database at all (tzdata missing).
    throw std::invalid_argument("time zone \"" + zone + "\" is not in the time zone database");
  }
  auto readTime = [](const std::optional<std::string>& text, const char* field) {
    std::optional<TimePoint> out;
    if (!text) return out;
    const auto t = kube::parseRfc3339(*text);
    if (!t)
      throw std::invalid_argument(std::string(field) + " \"" + *text +
                                  "\" is not an RFC 3339 time");
    out = saturated(*t);
    return out;
  };
  s.start = readTime(a.startTime, "startTime");
  s.end = readTime(a.endTime, "endTime");
  if (!s.cron && !s.start)
    throw std::invalid_argument("neither recurrence nor startTime is set: it never runs");
  return s;
}

std::string format(TimePoint t) {
  return kube::formatRfc3339(t);
}

// Puts min <= max back after `setMin` and/or `setMax` were just set: the
// bound set last wins.
void keepOrdered(std::int64_t& minSize, std::int64_t& maxSize, bool setMin, bool setMax) {
  if (minSize <= maxSize) return;
  if (setMin && !setMax)
    maxSize = minSize;
  else
    minSize = maxSize;
}

}  // namespace

std::optional<TimePoint> nextRun(const v1::ScheduledAction& action, TimePoint after) {
  return readSchedule(action).next(after);
}

namespace {

Schedule recurrenceSchedule(const std::string& recurrence, const std::string& timeZone) {
  v1::ScheduledAction a;
  a.recurrence = recurrence;
  a.timeZone = timeZone;
  return readSchedule(a);
}

}  // namespace

std::optional<TimePoint> nextRecurrence(const std::string& recurrence, const std::string& timeZone,
                                        TimePoint after) {
  return recurrenceSchedule(recurrence, timeZone).next(after);
}

std::optional<TimePoint> latestRecurrence(const std::string& recurrence,
                                          const std::string& timeZone, TimePoint first,
                                          TimePoint now) {
  return recurrenceSchedule(recurrence, timeZone).latestBy(first, now);
}

CapacityDecision decideCapacity(const v1::ScalingGroup& group, TimePoint now,
                                bool scheduledActionsSuspended) {
  const v1::ScalingGroupSpec& spec = group.spec;
  const v1::ScalingGroupStatus noStatus{};
  const v1::ScalingGroupStatus& status = group.status ? *group.status : noStatus;
  const v1::ScalingGroupRequested noRequest{};
  const v1::ScalingGroupRequested& req = status.requested ? *status.requested : noRequest;

  CapacityDecision d;
  d.requested.minSize = spec.minSize;
  d.requested.maxSize = spec.maxSize;
  d.requested.desiredCapacity = spec.desiredCapacity;

  // ---- spec: new values take effect at once, equal ones change nothing.
  const bool newMin = !(req.minSize == spec.minSize && status.minSize);
  const bool newMax = !(req.maxSize == spec.maxSize && status.maxSize);
  std::int64_t minSize = newMin ? spec.minSize : *status.minSize;
  std::int64_t maxSize = newMax ? spec.maxSize : *status.maxSize;
  keepOrdered(minSize, maxSize, newMin, newMax);

  const bool first = !status.desiredCapacity;
  const std::int64_t before = status.desiredCapacity.value_or(0);
  const bool newDesired = spec.desiredCapacity && !(req.desiredCapacity == spec.desiredCapacity);
  std::int64_t desired = before;
  std::string cause;
  if (newDesired) {
    desired = *spec.desiredCapacity;
    cause = req.desiredCapacity ? "spec.desiredCapacity changed from " + num(*req.desiredCapacity) +
                                      " to " + num(desired)
                                : "spec.desiredCapacity set to " + num(desired);
  } else if (first) {
    desired = minSize;
    cause = "no spec.desiredCapacity: the group starts at minSize " + num(minSize);
  }
  const std::int64_t clamped = std::clamp(desired, minSize, maxSize);
  if (clamped != desired) {
    const bool above = desired > clamped;
    const std::string bound = above ? "maxSize" : "minSize";
    if (newDesired) {
      cause += ", clamped to " + bound + " " + num(clamped);
    } else {
      const bool fromSpec = above ? newMax : newMin;
      const std::optional<std::int64_t>& was = above ? req.maxSize : req.minSize;
      const std::int64_t value = above ? maxSize : minSize;
      std::string what;
      if (fromSpec && was)
        what = "spec." + bound + (above ? " lowered to " : " raised to ") + num(value);
      else if (fromSpec)
        what = "spec." + bound + " set to " + num(value);
      else
        what = "clamped to " + bound + " " + num(value) + " in force";
      cause = what + ": desired " + num(before) + " -> " + num(clamped);
    }
    desired = clamped;
  }
  if (desired != before) d.changes.push_back({before, desired, cause});

  // ---- scheduled actions.
  std::map<std::string, const v1::ScheduledActionStatus*> known;
  if (status.scheduledActions)
    for (const auto& s : *status.scheduledActions) known.emplace(s.name, &s);
  struct Due {
    std::size_t index = 0;
    TimePoint at{};
  };
  std::vector<Due> due;
  static const std::vector<v1::ScheduledAction> noActions;
  const std::vector<v1::ScheduledAction>& actions =
      spec.scheduledActions ? *spec.scheduledActions : noActions;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const v1::ScheduledAction& a = actions[i];
    const auto it = known.find(a.name);
    const v1::ScheduledActionStatus* old = it == known.end() ? nullptr : it->second;
    Schedule schedule;
    try {
      schedule = readSchedule(a);
    } catch (const std::invalid_argument& e) {
      d.problems.push_back("scheduled action " + a.name + ": " + e.what());
      if (old) d.scheduledActions.push_back(*old);
      continue;
    }
    v1::ScheduledActionStatus out;
    out.name = a.name;
    std::optional<TimePoint> dueAt;
    if (!old) {
      // New: a one-off one whose time has passed runs at once; a recurring
      // one waits for its next time.
      if (!schedule.cron && schedule.start && *schedule.start <= now)
        dueAt = std::chrono::floor<seconds>(*schedule.start);
    } else {
      out.lastTime = old->lastTime;
      const auto stored = old->nextTime ? kube::parseRfc3339Utc(*old->nextTime) : std::nullopt;
      if (stored && *stored <= now) dueAt = stored;
    }
    if (dueAt && !scheduledActionsSuspended) {
      if (const auto run = schedule.latestBy(*dueAt, now)) {
        due.push_back({i, *run});
        out.lastTime = format(*run);
      }
    }
    if (const auto next = schedule.next(now)) {
      out.nextTime = format(*next);
      if (!d.nextWakeUp || *next < *d.nextWakeUp) d.nextWakeUp = next;
    }
    d.scheduledActions.push_back(std::move(out));
  }
  std::stable_sort(due.begin(), due.end(), [](const Due& x, const Due& y) { return x.at < y.at; });
  for (const Due& run : due) {
    const v1::ScheduledAction& a = actions[run.index];
    const std::int64_t was = desired;
    if (a.minSize) minSize = *a.minSize;
    if (a.maxSize) maxSize = *a.maxSize;
    keepOrdered(minSize, maxSize, a.minSize.has_value(), a.maxSize.has_value());
    if (a.desiredCapacity) desired = *a.desiredCapacity;
    desired = std::clamp(desired, minSize, maxSize);
    if (desired != was)
      d.changes.push_back(
          {was, desired,
           "scheduled action " + a.name + ": desired " + num(was) + " -> " + num(desired)});
  }

  d.minSize = minSize;
  d.maxSize = maxSize;
  d.desiredCapacity = desired;
  if (spec.desiredCapacity && *spec.desiredCapacity > maxSize) {
    d.inRange = false;
    d.rangeMessage = "spec.desiredCapacity (" + num(*spec.desiredCapacity) +
                     ") is above the maximum in force (" + num(maxSize) + ")";
  } else if (spec.desiredCapacity && *spec.desiredCapacity < minSize) {
    d.inRange = false;
    d.rangeMessage = "spec.desiredCapacity (" + num(*spec.desiredCapacity) +
                     ") is below the minimum in force (" + num(minSize) + ")";
  }
  return d;
}

}  // namespace kubec2::reconcilers
