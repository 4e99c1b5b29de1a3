// Load traces for the replay harness: demand in vCPU every 5 s.
// Synthetic ones are 48 h long (weekly: 7 days) and deterministic (a fixed seed and
// std::mt19937_64, whose output the C++ standard fixes); recorded ones
// are read from CSV (`t_seconds,demand_vcpu`, `#` comment lines).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kubec2::replay {

inline constexpr int kStepSeconds = 5;

struct Trace {
  std::string name;
  std::vector<double> demand;  // vCPU at t = i * kStepSeconds
};

// steady, diurnal, spike or sawtooth (the goal's traces), randomwalk,
// flashcrowd, plateau or weekly (checks on other kinds of load);
// nullopt for another name.
std::optional<Trace> syntheticTrace(const std::string& name);

// A CSV trace, resampled onto the 5 s grid (each value held until the
// next row). Throws std::runtime_error with the line for a bad file.
Trace readCsvTrace(const std::string& path);

}  // namespace kubec2::replay
