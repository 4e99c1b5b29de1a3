// libFuzzer target: the KubeVirt simulator's control API
// (tools/kubevirt-sim/control_api.h), the request handler the simulator's
// HTTP server calls, without a socket. Behind it, a stand-in simulator with
// the real load model (two running VMIs of group "web" in namespace "shop"),
// so that the demands set go on into its Prometheus text.
// Input: requests separated by a line "%%", each "METHOD TARGET" on its
// first line and the body after it; 10 s pass between requests.
// Checks that no request makes the handler fail (a 500 is an exception it
// caught), that a JSON answer is JSON and that the metrics stay parseable
// text (no raw newline inside a label value).
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/well_known.h"
#include "runtime/fake_clock.h"
#include "tools/kubevirt-sim/control_api.h"
#include "tools/kubevirt-sim/load_model.h"

namespace {

using kubec2::sim::HttpRequest;
using kubec2::sim::HttpResponse;
using nlohmann::json;

class LoadOnlySim final : public kubec2::sim::SimControl {
 public:
  explicit LoadOnlySim(const kube::Clock& clock) : load_(clock) {
    for (const char* name : {"web-1", "web-2"})
      load_.addVmi({"shop", name, "node-1", {{kubec2::api::kScalingGroupLabel, "web"}}, 2, 1e9});
  }
  // As Simulator::setLoad and loads() answer.
  HttpResponse setLoad(const kubec2::sim::LoadRequest& r) override {
    load_.setDemand(r.target, r.demand);
    return HttpResponse::json(200, describe(r.target, r.demand));
  }
  HttpResponse applyFault(const kubec2::sim::FaultRequest& r) override {
    json out = {{"namespace", r.namespace_}, {"name", r.name}, {"clear", r.clear}};
    if (r.fault) out["fault"] = kubec2::sim::faultName(*r.fault);
    return HttpResponse::json(200, out);
  }
  json listVms() override { return json::array(); }
  json loads() override {
    json out = json::array();
    for (const auto& [t, d] : load_.demands()) out.push_back(describe(t, d));
    return out;
  }
  std::string metrics() override { return load_.renderMetrics(); }

 private:
  json describe(const kubec2::sim::LoadTarget& t, const kubec2::sim::Demand& d) const {
    json e = {{"namespace", t.namespace_},
              {"cpu", d.cpuCores},
              {"networkInBytesPerSecond", d.networkInBytesPerSecond},
              {"networkOutBytesPerSecond", d.networkOutBytesPerSecond},
              {"requestsPerSecond", d.requestsPerSecond},
              {"runningVmis", load_.members(t)}};
    e[t.group.empty() ? "name" : "group"] = t.group.empty() ? t.name : t.group;
    return e;
  }
  kubec2::sim::LoadModel load_;
};

void check(const HttpResponse& r) {
  if (r.status == 500) std::abort();  // the handler caught an exception
  if (r.contentType == "application/json") {
    if (!json::accept(r.body)) std::abort();
  } else if (r.body != "ok") {
    // Prometheus text: every line a comment or `name{labels} value`.
    size_t start = 0;
    while (start < r.body.size()) {
      size_t end = r.body.find('\n', start);
      if (end == std::string::npos) end = r.body.size();
      const std::string line = r.body.substr(start, end - start);
      start = end + 1;
      if (line.empty() || line[0] == '#') continue;
      const size_t space = line.rfind(' ');
      if (!std::isalpha(static_cast<unsigned char>(line[0])) || space == std::string::npos)
        std::abort();
      const std::string value = line.substr(space + 1);
      char* endOfNumber = nullptr;
      std::strtod(value.c_str(), &endOfNumber);
      if (value.empty() || *endOfNumber != '\0') std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  kube::FakeClock clock;
  LoadOnlySim sim(clock);
  size_t start = 0;
  while (start <= input.size()) {
    size_t sep = input.find("\n%%\n", start);
    if (sep == std::string_view::npos) sep = input.size();
    const std::string_view one = input.substr(start, sep - start);
    const size_t nl = one.find('\n');
    const std::string_view head = one.substr(0, nl);
    const size_t space = head.find(' ');
    HttpRequest req;
    req.method = std::string(head.substr(0, space));
    req.target = space == std::string_view::npos ? "" : std::string(head.substr(space + 1));
    req.body = nl == std::string_view::npos ? "" : std::string(one.substr(nl + 1));
    check(kubec2::sim::handleControl(sim, req));
    clock.advance(std::chrono::seconds(10));
    start = sep + 4;
  }
  return 0;
}
