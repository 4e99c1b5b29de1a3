// kubec2-replay: feeds a load trace through the scaling decisions in
// simulated time, beside the Kubernetes HPA and AWS target tracking.
//
//   kubec2-replay --trace steady|diurnal|spike|sawtooth|FILE.csv [--format table|csv]
//                 [--interval SECONDS]
//   (--trace randomwalk|flashcrowd|plateau|weekly: other kinds of load)
//
// docs/benchmarks.md has the figures; simulator.h the model.
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/replay/simulator.h"

namespace {

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: kubec2-replay --trace steady|diurnal|spike|sawtooth|FILE.csv "
               "[--format table|csv] [--interval SECONDS]\n"
               "  --trace     a synthetic trace (48 h at 5 s steps, fixed seed) or a CSV of\n"
               "              t_seconds,demand_vcpu ('#' lines are comments); also randomwalk,\n"
               "              flashcrowd, plateau and weekly (7 days), checks on other loads\n"
               "  --format    table (default) or csv: policy,under_provisioned_capacity_seconds,\n"
               "              instance_hours,actions\n"
               "  --interval  kubec2's evaluation interval in seconds, a multiple of 5 (15)\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kubec2::replay;
  std::string traceName, format = "table";
  int interval = 15;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage(stderr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--trace")
      traceName = value();
    else if (a == "--format")
      format = value();
    else if (a == "--interval")
      interval = std::stoi(value());
    else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "kubec2-replay: unknown argument %s\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (traceName.empty() || (format != "table" && format != "csv") || interval <= 0 ||
      interval % kStepSeconds != 0) {
    usage(stderr);
    return 2;
  }
  Trace trace;
  try {
    auto synthetic = syntheticTrace(traceName);
    trace = synthetic ? std::move(*synthetic) : readCsvTrace(traceName);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kubec2-replay: %s\n", e.what());
    return 1;
  }

  const Model model;
  std::vector<std::unique_ptr<Autoscaler>> scalers;
  scalers.push_back(makeHpa());
  scalers.push_back(makeAwsTargetTracking());
  scalers.push_back(makeKubec2TargetTracking(interval));
  scalers.push_back(makeKubec2Predictive(interval));
  std::vector<Result> results;
  for (auto& s : scalers) results.push_back(replay(trace, model, *s));

  if (format == "csv") {
    std::printf("policy,under_provisioned_capacity_seconds,instance_hours,actions\n");
    for (const auto& r : results) {
      std::printf("%s,%.0f,%.1f,%lld\n", r.policy.c_str(), r.underProvisionedCapacitySeconds,
                  r.instanceHours, static_cast<long long>(r.actions));
    }
    return 0;
  }
  std::printf("trace %s: %zu steps of %d s (%.1f h)\n", trace.name.c_str(), trace.demand.size(),
              kStepSeconds, static_cast<double>(trace.demand.size()) * kStepSeconds / 3600.0);
  std::printf("%-28s %22s %15s %8s\n", "policy", "under-provisioned cap-s", "instance-hours",
              "actions");
  for (const auto& r : results) {
    std::printf("%-28s %22.0f %15.1f %8lld\n", r.policy.c_str(), r.underProvisionedCapacitySeconds,
                r.instanceHours, static_cast<long long>(r.actions));
  }
  return 0;
}
