// Structured logs: one JSON object per line on stderr, as controller-runtime's
// zap logger writes them, so that log pipelines can index by field:
//
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","logger":"controller",
//    "msg":"reconciled","controller":"instance","object":"ns/web-1",
//    "reconcileID":"6f1c..."}
//
// setup() installs this format on spdlog's default logger, so plain
// spdlog::info("...") calls elsewhere in the runtime come out as JSON too.
//
// A LogContext adds fields to every line the current thread writes while it is
// in scope: the controller puts controller, object and reconcileID there for
// the length of a reconcile, and whatever the reconciler logs carries them.
//
// Secrets: callers must never pass tokens, passwords, keys or request headers
// as messages or fields; the client never logs headers or bodies. As a last
// line of defence, fields named token, password, secret, authorization,
// bearerToken, clientKey or apiKey (any case) are written as "[REDACTED]". The
// message text cannot be scanned that way: keep secrets out of it.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace spdlog::sinks {
class sink;
}

namespace kube::log {

// Key/value fields: a JSON object, so `{{"object", "ns/n"}, {"attempt", 3}}`
// works as an argument. Null means none. A non-object value is kept whole
// under the key "fields" rather than dropped.
using Fields = nlohmann::json;

enum class Level { Debug, Info, Warn, Error };

// "debug", "info", "warn" or "error"; anything else throws
// std::invalid_argument naming the accepted values.
Level parseLevel(std::string_view level);

// Replaces spdlog's default logger with one writing to `sink` (stderr when
// null) at `level`, as JSON lines or, with json=false, as readable text for a
// terminal. Call once from main before other threads log; tests pass a sink to
// capture output. Throws std::invalid_argument on a bad level.
void setup(const std::string& level, bool json = true,
           std::shared_ptr<spdlog::sinks::sink> sink = nullptr);
void setLevel(Level level);
bool enabled(Level level);

// Writes one line. `logger` names the component ("controller", "manager");
// empty means the default logger's name.
void write(Level level, std::string_view msg, const Fields& fields = {},
           std::string_view logger = {});

inline void debug(std::string_view msg, const Fields& fields = {}) {
  write(Level::Debug, msg, fields);
}
inline void info(std::string_view msg, const Fields& fields = {}) {
  write(Level::Info, msg, fields);
}
inline void warn(std::string_view msg, const Fields& fields = {}) {
  write(Level::Warn, msg, fields);
}
inline void error(std::string_view msg, const Fields& fields = {}) {
  write(Level::Error, msg, fields);
}

// A named logger with fields of its own, merged under each call's fields.
class Logger {
 public:
  explicit Logger(std::string name, Fields fields = {});
  // A child logger with more fields (the call's own win on a clash).
  Logger with(const Fields& fields) const;
  const std::string& name() const { return name_; }

  void write(Level level, std::string_view msg, const Fields& fields = {}) const;
  void debug(std::string_view msg, const Fields& fields = {}) const {
    write(Level::Debug, msg, fields);
  }
  void info(std::string_view msg, const Fields& fields = {}) const {
    write(Level::Info, msg, fields);
  }
  void warn(std::string_view msg, const Fields& fields = {}) const {
    write(Level::Warn, msg, fields);
  }
  void error(std::string_view msg, const Fields& fields = {}) const {
    write(Level::Error, msg, fields);
  }

 private:
  std::string name_;
  Fields fields_;
};

// RAII: adds `fields` to every line this thread writes until destroyed.
// Scopes nest; an inner scope's field wins over an outer one of the same key,
// and a call's own fields win over both. Must be destroyed on the thread that
// created it (it is neither copyable nor movable, so it stays on the stack).
class LogContext {
 public:
  explicit LogContext(Fields fields);
  // So that a single pair, LogContext ctx({{"object", key}}), is not taken
  // for a copy.
  LogContext(std::initializer_list<std::pair<const std::string, Fields>> fields)
      : LogContext(Fields(Fields::object_t(fields.begin(), fields.end()))) {}
  ~LogContext();
  LogContext(const LogContext&) = delete;
  LogContext& operator=(const LogContext&) = delete;
};

// This thread's context fields, merged: to carry them to work done elsewhere
// (open a LogContext with them on the other thread).
Fields currentContext();

}  // namespace kube::log
