// libFuzzer target: the watch stream decoder (runtime/watch_decoder.h).
// Input: the bytes of a watch response body. Checks that decoding never
// fails other than with its documented ApiError, and that where the network
// cuts the stream does not matter: fed whole, or in chunks of a size the
// input's first byte picks, the same events come out and the same frame is
// refused.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/watch_decoder.h"

namespace {

struct Outcome {
  std::vector<std::string> events;  // type and object, serialized
  bool refused = false;
};

Outcome decode(std::string_view stream, size_t chunk) {
  Outcome out;
  kube::WatchDecoder d;
  const auto collect = [&](kube::WatchEvent&& e) {
    out.events.push_back(e.type + " " + e.object.dump());
    return true;
  };
  try {
    for (size_t at = 0; at < stream.size(); at += chunk) d.feed(stream.substr(at, chunk), collect);
    d.finish(collect);
  } catch (const kube::ApiError& e) {
    if (e.status().reason != "BadWatchFrame") std::abort();
    out.refused = true;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = decode(stream, stream.size() + 1);
  const Outcome cut = decode(stream, chunk);
  if (whole.refused != cut.refused || whole.events != cut.events) std::abort();
  return 0;
}
