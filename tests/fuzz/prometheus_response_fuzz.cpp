// libFuzzer target: the parser of Prometheus HTTP API answers
// (kube::prom::parseResponse, runtime/prometheus_client.h), which the
// scaling policies' metrics go through.
// Input: an answer body, optionally after a first line "HTTP <status>"
// (200 otherwise). Checks that an answer is either parsed or refused with
// QueryError (reason HttpError or Garbage), never another exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "runtime/prometheus_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  long status = 200;
  if (body.rfind("HTTP ", 0) == 0 && body.size() >= 9 && body.find('\n') == 8) {
    status = std::strtol(body.substr(5, 3).c_str(), nullptr, 10);
    body.erase(0, 9);
  }
  try {
    const kube::prom::QueryResult r = kube::prom::parseResponse(status, body);
    if (r.resultType == "scalar" && r.samples.size() != 1) std::abort();
  } catch (const kube::prom::QueryError& e) {
    if (e.reason() != "HttpError" && e.reason() != "Garbage") std::abort();
  }
  return 0;
}
