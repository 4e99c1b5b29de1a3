#include "bench/replay/traces.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <numbers>
#include <random>
#include <sstream>
#include <stdexcept>

namespace kubec2::replay {
namespace {

constexpr int kHours = 48;
constexpr int kSteps = kHours * 3600 / kStepSeconds;
constexpr std::uint64_t kSeed = 20250101;

// Standard normal draws from the engine's bits (Box-Muller), so traces do
// not depend on the standard library's distribution algorithms.
class Noise {
 public:
  explicit Noise(std::uint64_t seed) : rng_(seed) {}
  double uniform() { return (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53; }
  double normal() {
    const double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
  }

 private:
  std::mt19937_64 rng_;
};

// Slowly wandering noise: an AR(1) process with standard deviation `sd`
// and correlation time `tau` seconds, plus white noise `white` per step.
class Wander {
 public:
  Wander(Noise& noise, double sd, double tau, double white)
      : noise_(noise), a_(std::exp(-kStepSeconds / tau)), sd_(sd), white_(white) {}
  double next() {
    x_ = a_ * x_ + std::sqrt(1 - a_ * a_) * sd_ * noise_.normal();
    return x_ + white_ * noise_.normal();
  }

 private:
  Noise& noise_;
  double a_, sd_, white_, x_ = 0;
};

double hours(int step) {
  return step * kStepSeconds / 3600.0;
}

std::vector<double> steady(Noise& n) {
  Wander w(n, 4.0, 600.0, 1.5);
  std::vector<double> d(kSteps);
  for (int i = 0; i < kSteps; ++i) d[static_cast<std::size_t>(i)] = 40.0 + w.next();
  return d;
}

// A working day's shape: low at night, a morning ramp, a peak early in
// the afternoon; the second day 5 % busier.
std::vector<double> diurnal(Noise& n) {
  Wander w(n, 3.0, 900.0, 1.5);
  std::vector<double> d(kSteps);
  for (int i = 0; i < kSteps; ++i) {
    const double h = hours(i);
    const double day = std::fmod(h, 24.0);
    const double shape = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * (day - 2.0) / 24.0);
    const double level = h < 24 ? 1.0 : 1.05;
    d[static_cast<std::size_t>(i)] = level * (10.0 + 70.0 * std::pow(shape, 1.5)) + w.next();
  }
  return d;
}

// A steady base with sudden surges: every 2 to 4 hours demand jumps by 30
// to 60 vCPU within half a minute, holds 5 to 20 minutes, then decays.
std::vector<double> spike(Noise& n) {
  Wander w(n, 3.0, 600.0, 1.5);
  std::vector<double> d(kSteps);
  for (int i = 0; i < kSteps; ++i) d[static_cast<std::size_t>(i)] = 25.0 + w.next();
  double t = 3600.0 * (1 + n.uniform());
  while (t < kHours * 3600.0) {
    const double height = 30 + 30 * n.uniform();
    const double hold = 300 + 900 * n.uniform();
    for (int i = 0; i < kSteps; ++i) {
      const double s = i * kStepSeconds - t;
      if (s < 0) continue;
      double add = 0;
      if (s < 30)
        add = height * s / 30;
      else if (s < 30 + hold)
        add = height;
      else
        add = height * std::exp(-(s - 30 - hold) / 300.0);
      if (add < 0.1 && s > 30 + hold) break;
      d[static_cast<std::size_t>(i)] += add;
    }
    t += 3600.0 * (2 + 2 * n.uniform());
  }
  return d;
}

// Ramps from 10 to 90 vCPU over 90 minutes, then drops back at once
// (batch waves, cache expiry).
std::vector<double> sawtooth(Noise& n) {
  Wander w(n, 2.0, 600.0, 1.5);
  std::vector<double> d(kSteps);
  for (int i = 0; i < kSteps; ++i) {
    const double phase = std::fmod(i * kStepSeconds, 5400.0) / 5400.0;
    d[static_cast<std::size_t>(i)] = 10.0 + 80.0 * phase + w.next();
  }
  return d;
}

// Checks on the kind of load rather than on the four traces above (the
// tuning must not be fitted to them): these are not in docs/benchmarks.md's
// goal table but beside it.

// A random walk: the log of demand wanders (weakly pulled back to 40 vCPU
// over about 6 h), with 5 % white noise; nothing repeats, nothing steps.
std::vector<double> randomWalk(Noise& n) {
  std::vector<double> d(kSteps);
  double x = 0;
  const double a = std::exp(-kStepSeconds / (6 * 3600.0));
  for (int i = 0; i < kSteps; ++i) {
    x = a * x + 0.004 * n.normal();
    const double level = std::clamp(40.0 * std::exp(x), 4.0, 95.0);
    d[static_cast<std::size_t>(i)] = level * (1 + 0.05 * n.normal());
  }
  return d;
}

// Flash crowds: a quiet 15 vCPU base; every 6 to 10 h demand rises by 40
// to 75 vCPU within a minute and decays over about 45 minutes (a link on
// a busy site), with the noise of many users.
std::vector<double> flashCrowd(Noise& n) {
  Wander w(n, 2.0, 600.0, 1.0);
  std::vector<double> d(kSteps);
  for (int i = 0; i < kSteps; ++i) d[static_cast<std::size_t>(i)] = 15.0 + w.next();
  double t = 3600.0 * (2 + 2 * n.uniform());
  while (t < kHours * 3600.0) {
    const double height = 40 + 35 * n.uniform();
    for (int i = 0; i < kSteps; ++i) {
      const double s = i * kStepSeconds - t;
      if (s < 0) continue;
      const double add = s < 60 ? height * s / 60 : height * std::exp(-(s - 60) / 2700.0);
      if (add < 0.1 && s > 60) break;
      d[static_cast<std::size_t>(i)] += add * (1 + 0.08 * n.normal());
    }
    t += 3600.0 * (6 + 4 * n.uniform());
  }
  return d;
}

// Noisy plateaus: the level moves at once to 20..70 vCPU every 1 to 3 h
// and holds; around it every 5 s step scatters by 15 % (request bursts,
// as the recorded web trace), so most of the movement is noise.
std::vector<double> noisyPlateau(Noise& n) {
  std::vector<double> d(kSteps);
  double level = 40, next = 0;
  for (int i = 0; i < kSteps; ++i) {
    const double t = i * kStepSeconds;
    if (t >= next) {
      level = 20 + 50 * n.uniform();
      next = t + 3600.0 * (1 + 2 * n.uniform());
    }
    d[static_cast<std::size_t>(i)] = level * (1 + 0.15 * n.normal());
  }
  return d;
}

// A week (7 days, Monday first): working days as diurnal's shape at 15 to
// 85 vCPU with the peak moving by up to an hour day to day, a weekend at
// 40 % of it, and wander.
std::vector<double> weekly(Noise& n) {
  constexpr int steps = 7 * 24 * 3600 / kStepSeconds;
  Wander w(n, 3.0, 900.0, 2.0);
  std::vector<double> d(steps);
  std::vector<double> shift(7);
  for (auto& s : shift) s = n.uniform() - 0.5;
  for (int i = 0; i < steps; ++i) {
    const double h = hours(i);
    const int dayNo = static_cast<int>(h / 24);
    const double day = std::fmod(h, 24.0) - shift[static_cast<std::size_t>(dayNo)];
    const double shape = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * (day - 2.0) / 24.0);
    const double level = dayNo >= 5 ? 0.4 : 1.0;
    d[static_cast<std::size_t>(i)] = 15.0 + level * 70.0 * std::pow(shape, 1.5) + w.next();
  }
  return d;
}

}  // namespace

std::optional<Trace> syntheticTrace(const std::string& name) {
  Noise noise(kSeed);
  std::vector<double> d;
  if (name == "steady")
    d = steady(noise);
  else if (name == "diurnal")
    d = diurnal(noise);
  else if (name == "spike")
    d = spike(noise);
  else if (name == "sawtooth")
    d = sawtooth(noise);
  else if (name == "randomwalk")
    d = randomWalk(noise);
  else if (name == "flashcrowd")
    d = flashCrowd(noise);
  else if (name == "plateau")
    d = noisyPlateau(noise);
  else if (name == "weekly")
    d = weekly(noise);
  else
    return std::nullopt;
  for (auto& v : d) v = std::max(0.0, v);
  return Trace{name, std::move(d)};
}

Trace readCsvTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::pair<double, double>> rows;
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    double t = 0, v = 0;
    char comma = 0;
    if (!(s >> t >> comma >> v) || comma != ',' || !std::isfinite(t) || !std::isfinite(v)) {
      if (rows.empty() && lineNo < 50 && line.find("t_seconds") != std::string::npos) continue;
      throw std::runtime_error(path + ":" + std::to_string(lineNo) + ": not t_seconds,demand_vcpu");
    }
    if (!rows.empty() && t <= rows.back().first) {
      throw std::runtime_error(path + ":" + std::to_string(lineNo) + ": time does not increase");
    }
    rows.emplace_back(t, std::max(0.0, v));
  }
  if (rows.empty()) throw std::runtime_error(path + ": no data rows");
  Trace trace;
  const auto slash = path.find_last_of('/');
  trace.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  const double t0 = rows.front().first;
  const double end = rows.back().first - t0;
  std::size_t r = 0;
  for (double t = 0; t <= end + 1e-9; t += kStepSeconds) {
    while (r + 1 < rows.size() && rows[r + 1].first - t0 <= t + 1e-9) ++r;
    trace.demand.push_back(rows[r].second);
  }
  return trace;
}

}  // namespace kubec2::replay
