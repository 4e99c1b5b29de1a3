#include "runtime/watch_decoder.h"

#include <algorithm>

namespace kube {
namespace {

[[noreturn]] void badFrame(const std::string& why, std::string_view frame) {
  constexpr size_t kShow = 120;
  std::string shown(frame.substr(0, kShow));
  if (frame.size() > kShow) shown += "...";
  Status s;
  s.reason = "BadWatchFrame";
  s.message = "malformed watch frame: " + why + ": " + shown;
  throw ApiError(std::move(s));
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

}  // namespace

WatchEvent WatchDecoder::decodeFrame(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) badFrame("not JSON", line);
  if (!j.is_object()) badFrame("not a JSON object", line);
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) badFrame("no \"type\"", line);
  auto o = j.find("object");
  if (o == j.end() || !o->is_object()) badFrame("no \"object\"", line);
  WatchEvent ev;
  ev.type = t->get<std::string>();
  static constexpr std::string_view kTypes[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK",
                                                "ERROR"};
  if (std::find(std::begin(kTypes), std::end(kTypes), ev.type) == std::end(kTypes))
    badFrame("unknown type \"" + ev.type + "\"", line);
  ev.object = std::move(*o);
  return ev;
}

bool WatchDecoder::feed(std::string_view chunk, const std::function<bool(WatchEvent&&)>& onEvent) {
  size_t start = 0;
  while (start < chunk.size()) {
    size_t nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      buffer_.append(chunk.substr(start));
      if (buffer_.size() > kMaxFrameBytes) badFrame("frame larger than 16 MiB", buffer_);
      return true;
    }
    std::string_view piece = chunk.substr(start, nl - start);
    start = nl + 1;
    std::string_view line;
    if (!buffer_.empty()) {
      buffer_.append(piece);
      line = buffer_;
    } else {
      line = piece;
    }
    bool keepGoing = true;
    if (!blank(line)) keepGoing = onEvent(decodeFrame(line));
    buffer_.clear();
    if (!keepGoing) return false;
  }
  return true;
}

bool WatchDecoder::finish(const std::function<bool(WatchEvent&&)>& onEvent) {
  if (blank(buffer_)) return true;
  std::string rest = std::move(buffer_);
  buffer_.clear();
  if (!nlohmann::json::accept(rest)) badFrame("stream ended inside a frame", rest);
  return onEvent(decodeFrame(rest));
}

}  // namespace kube
