#include "tools/kubevirt-sim/control_api.h"

#include <cmath>
#include <set>

namespace kubec2::sim {

using nlohmann::json;

HttpResponse HttpResponse::json(int status, const nlohmann::json& body) {
  // Replace, not throw on, bytes that are not UTF-8: an error message may
  // quote a request's path, which is whatever the client sent.
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

HttpResponse HttpResponse::error(int status, const std::string& message) {
  return json(status, {{"error", message}});
}

HttpResponse HttpResponse::none() {
  HttpResponse r;
  r.noAnswer = true;
  return r;
}

const char* faultName(FaultKind k) {
  switch (k) {
    case FaultKind::Crash:
      return "crash";
    case FaultKind::HangBoot:
      return "hang-boot";
    case FaultKind::FailHealth:
      return "fail-health";
    case FaultKind::HangHealth:
      return "hang-health";
    case FaultKind::SlowBoot:
      return "slow-boot";
  }
  return "";
}

nlohmann::json FaultSet::toJson() const {
  nlohmann::json out = nlohmann::json::array();
  if (hangBoot) out.push_back("hang-boot");
  if (failHealth) out.push_back("fail-health");
  if (hangHealth) out.push_back("hang-health");
  if (slowBootMs) out.push_back("slow-boot:" + std::to_string(*slowBootMs) + "ms");
  return out;
}

namespace {

// Parses an object body; on error returns the message.
std::variant<nlohmann::json, std::string> parseObject(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::string("body is not valid JSON");
  if (!j.is_object()) return std::string("body must be a JSON object");
  return j;
}

std::optional<std::string> unknownField(const nlohmann::json& j,
                                        const std::set<std::string>& known) {
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) return "unknown field \"" + k + "\"";
  return std::nullopt;
}

// A required non-empty string field; sets `err` on failure.
std::string requiredString(const nlohmann::json& j, const char* field, std::string& err) {
  auto it = j.find(field);
  if (it == j.end()) {
    if (err.empty()) err = std::string("field \"") + field + "\" is required";
    return "";
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    if (err.empty()) err = std::string("field \"") + field + "\" must be a non-empty string";
    return "";
  }
  return it->get<std::string>();
}

double rate(const nlohmann::json& j, const char* field, std::string& err) {
  auto it = j.find(field);
  if (it == j.end()) return 0;
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0) {
    if (err.empty()) err = std::string("field \"") + field + "\" must be a number >= 0";
    return 0;
  }
  return it->get<double>();
}

}  // namespace

std::variant<LoadRequest, std::string> parseLoadRequest(const std::string& body) {
  auto parsed = parseObject(body);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  const nlohmann::json& j = std::get<nlohmann::json>(parsed);
  if (auto e = unknownField(j, {"namespace", "group", "name", "cpu", "networkInBytesPerSecond",
                                "networkOutBytesPerSecond", "requestsPerSecond"}))
    return *e;
  std::string err;
  LoadRequest r;
  r.target.namespace_ = requiredString(j, "namespace", err);
  if (!err.empty()) return err;
  const bool hasGroup = j.contains("group"), hasName = j.contains("name");
  if (hasGroup == hasName)
    return std::string("exactly one of fields \"group\" and \"name\" is required");
  if (hasGroup)
    r.target.group = requiredString(j, "group", err);
  else
    r.target.name = requiredString(j, "name", err);
  r.demand.cpuCores = rate(j, "cpu", err);
  r.demand.networkInBytesPerSecond = rate(j, "networkInBytesPerSecond", err);
  r.demand.networkOutBytesPerSecond = rate(j, "networkOutBytesPerSecond", err);
  r.demand.requestsPerSecond = rate(j, "requestsPerSecond", err);
  if (!err.empty()) return err;
  return r;
}

std::variant<FaultRequest, std::string> parseFaultRequest(const std::string& body) {
  auto parsed = parseObject(body);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  const nlohmann::json& j = std::get<nlohmann::json>(parsed);
  if (auto e = unknownField(j, {"namespace", "name", "fault", "bootDelayMs", "clear"})) return *e;
  std::string err;
  FaultRequest r;
  r.namespace_ = requiredString(j, "namespace", err);
  r.name = requiredString(j, "name", err);
  if (!err.empty()) return err;
  if (auto it = j.find("clear"); it != j.end()) {
    if (!it->is_boolean()) return std::string("field \"clear\" must be true or false");
    r.clear = it->get<bool>();
  }
  auto f = j.find("fault");
  if (r.clear) {
    if (f != j.end() || j.contains("bootDelayMs"))
      return std::string("field \"clear\" cannot be combined with \"fault\" or \"bootDelayMs\"");
    return r;
  }
  if (f == j.end()) return std::string("field \"fault\" is required (or \"clear\": true)");
  const std::string name = f->is_string() ? f->get<std::string>() : "";
  for (FaultKind k : {FaultKind::Crash, FaultKind::HangBoot, FaultKind::FailHealth,
                      FaultKind::HangHealth, FaultKind::SlowBoot})
    if (name == faultName(k)) r.fault = k;
  if (!r.fault)
    return std::string(
        "field \"fault\" must be one of crash, hang-boot, fail-health, hang-health, slow-boot");
  auto d = j.find("bootDelayMs");
  if (*r.fault == FaultKind::SlowBoot) {
    if (d == j.end()) return std::string("field \"bootDelayMs\" is required for slow-boot");
    if (!d->is_number_integer() || d->get<long long>() < 0 || d->get<long long>() > 86400000)
      return std::string("field \"bootDelayMs\" must be an integer from 0 to 86400000");
    r.bootDelayMs = static_cast<long>(d->get<long long>());
  } else if (d != j.end()) {
    return std::string("field \"bootDelayMs\" applies only to slow-boot");
  }
  return r;
}

HttpResponse handleControl(SimControl& sim, const HttpRequest& req) {
  try {
    const std::string path = req.target.substr(0, req.target.find('?'));
    auto only = [&](std::initializer_list<const char*> methods) {
      for (const char* m : methods)
        if (req.method == m) return true;
      return false;
    };
    if (path == "/healthz") {
      if (!only({"GET", "HEAD"})) return HttpResponse::error(405, "use GET");
      return {200, "text/plain; charset=utf-8", "ok"};
    }
    if (path == "/metrics") {
      if (!only({"GET"})) return HttpResponse::error(405, "use GET");
      return {200, "text/plain; version=0.0.4; charset=utf-8", sim.metrics()};
    }
    if (path == "/vms") {
      if (!only({"GET"})) return HttpResponse::error(405, "use GET");
      return HttpResponse::json(200, sim.listVms());
    }
    if (path == "/load") {
      if (req.method == "GET") return HttpResponse::json(200, sim.loads());
      if (req.method != "PUT" && req.method != "POST")
        return HttpResponse::error(405, "use PUT (or GET to read)");
      auto r = parseLoadRequest(req.body);
      if (auto* e = std::get_if<std::string>(&r)) return HttpResponse::error(400, *e);
      return sim.setLoad(std::get<LoadRequest>(r));
    }
    if (path == "/faults") {
      if (!only({"POST", "PUT"})) return HttpResponse::error(405, "use POST");
      auto r = parseFaultRequest(req.body);
      if (auto* e = std::get_if<std::string>(&r)) return HttpResponse::error(400, *e);
      return sim.applyFault(std::get<FaultRequest>(r));
    }
    return HttpResponse::error(
        404, "no such path: " + path + " (try /vms, /load, /faults, /metrics, /healthz)");
  } catch (const std::exception& e) {
    return HttpResponse::error(500, e.what());
  }
}

}  // namespace kubec2::sim
