// Splits a watch response body into events. The API server sends one JSON
// object per line, but the network may cut a line across chunks or put
// several lines in one chunk; this buffers the partial tail.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "runtime/client.h"

namespace kube {

class WatchDecoder {
 public:
  // A frame larger than this is refused (a stream of garbage must not grow
  // memory without bound). Objects are limited to ~1.5 MiB by etcd.
  static constexpr size_t kMaxFrameBytes = 16 * 1024 * 1024;

  // Decodes every complete frame in `chunk` and hands it to `onEvent`.
  // Returns false as soon as `onEvent` does. Throws ApiError (code 0, reason
  // BadWatchFrame) for a frame that is not a JSON object with a string
  // "type" and an object "object".
  bool feed(std::string_view chunk, const std::function<bool(WatchEvent&&)>& onEvent);

  // At end of stream: decodes a last frame that lacked its newline; throws
  // if what is left is not a whole frame (a truncated stream).
  bool finish(const std::function<bool(WatchEvent&&)>& onEvent);
  size_t buffered() const { return buffer_.size(); }

  static WatchEvent decodeFrame(std::string_view line);

 private:
  std::string buffer_;
};

}  // namespace kube
