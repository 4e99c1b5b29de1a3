#include "runtime/log.h"

#include <array>
#include <cctype>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <utility>
#include <vector>

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "runtime/timefmt.h"

namespace kube::log {
namespace {

// The fields and logger name of the write() in progress on this thread. The
// formatter runs synchronously inside logger->log() on the calling thread
// (the runtime uses no async spdlog loggers), so it finds them here; plain
// spdlog calls leave it null.
struct Call {
  const Fields* fields;
  std::string_view logger;
};
thread_local const Call* tCall = nullptr;

// The LogContext stack of this thread, outermost first.
thread_local std::vector<Fields> tContext;

constexpr std::array<std::string_view, 4> kReserved{"ts", "level", "logger", "msg"};
constexpr std::array<std::string_view, 7> kSecretKeys{
    "token", "password", "secret", "authorization", "bearertoken", "clientkey", "apikey"};

bool isSecretKey(std::string_view key) {
  std::string lower(key);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto s : kSecretKeys)
    if (lower == s) return true;
  return false;
}

bool isReserved(std::string_view key) {
  for (auto r : kReserved)
    if (key == r) return true;
  return false;
}

// Never throws on invalid UTF-8 (object names are user text): replaces it.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

spdlog::level::level_enum toSpd(Level l) {
  switch (l) {
    case Level::Debug:
      return spdlog::level::debug;
    case Level::Info:
      return spdlog::level::info;
    case Level::Warn:
      return spdlog::level::warn;
    case Level::Error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::string_view levelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "info";
  }
}

// Ordered key/value list: context fields in the order they were opened, then
// the call's; a later value for the same key replaces the earlier in place.
using FieldList = std::vector<std::pair<std::string, nlohmann::json>>;

void put(FieldList& out, const std::string& key, const nlohmann::json& value) {
  // Keys that would overwrite the line's own are kept, renamed.
  std::string k = isReserved(key) ? "fields." + key : key;
  nlohmann::json v = isSecretKey(key) ? nlohmann::json("[REDACTED]") : value;
  for (auto& [ek, ev] : out) {
    if (ek == k) {
      ev = std::move(v);
      return;
    }
  }
  out.emplace_back(std::move(k), std::move(v));
}

void merge(FieldList& out, const Fields& f) {
  if (f.is_null()) return;
  if (!f.is_object()) {
    put(out, "fields", f);
    return;
  }
  for (auto it = f.begin(); it != f.end(); ++it) put(out, it.key(), it.value());
}

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    FieldList fields;
    for (const auto& c : tContext) merge(fields, c);
    std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    if (tCall) {
      merge(fields, *tCall->fields);
      if (!tCall->logger.empty()) logger = tCall->logger;
    }
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (json_) {
      append(dest, "{\"ts\":\"");
      append(dest, formatRfc3339(msg.time, TimePrecision::Millis));
      append(dest, "\",\"level\":\"");
      append(dest, levelName(msg.level));
      append(dest, "\",\"logger\":");
      append(dest, dump(std::string(logger)));
      append(dest, ",\"msg\":");
      append(dest, dump(std::string(text)));
      for (const auto& [k, v] : fields) {
        append(dest, ",");
        append(dest, dump(k));
        append(dest, ":");
        append(dest, dump(v));
      }
      append(dest, "}\n");
      return;
    }
    // Text: for people at a terminal; not meant to be parsed.
    append(dest, formatRfc3339(msg.time, TimePrecision::Millis));
    append(dest, " ");
    std::string lvl(levelName(msg.level));
    for (char& c : lvl) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    append(dest, lvl);
    append(dest, " ");
    append(dest, logger);
    append(dest, " ");
    append(dest, text);
    for (const auto& [k, v] : fields) {
      append(dest, " ");
      append(dest, k);
      append(dest, "=");
      const bool plain = v.is_string() && v.get_ref<const std::string&>().find_first_of(" \"=\n") ==
                                              std::string::npos;
      append(dest, plain ? v.get_ref<const std::string&>() : dump(v));
    }
    append(dest, "\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(json_);
  }

 private:
  bool json_;
};

// Clears tCall however logger->log() exits.
class CallScope {
 public:
  explicit CallScope(const Call* c) { tCall = c; }
  ~CallScope() { tCall = nullptr; }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
};

}  // namespace

Level parseLevel(std::string_view level) {
  if (level == "debug") return Level::Debug;
  if (level == "info") return Level::Info;
  if (level == "warn") return Level::Warn;
  if (level == "error") return Level::Error;
  throw std::invalid_argument("invalid log level \"" + std::string(level) +
                              "\": expected one of debug, info, warn, error");
}

void setup(const std::string& level, bool json, std::shared_ptr<spdlog::sinks::sink> sink) {
  const Level lv = parseLevel(level);
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("kubec2", std::move(sink));
  logger->set_formatter(std::make_unique<LineFormatter>(json));
  logger->set_level(toSpd(lv));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void setLevel(Level level) {
  spdlog::default_logger_raw()->set_level(toSpd(level));
}

bool enabled(Level level) {
  return spdlog::default_logger_raw()->should_log(toSpd(level));
}

void write(Level level, std::string_view msg, const Fields& fields, std::string_view logger) {
  auto* lg = spdlog::default_logger_raw();
  const auto lvl = toSpd(level);
  if (!lg->should_log(lvl)) return;
  const Call call{&fields, logger};
  CallScope scope(&call);
  lg->log(lvl, spdlog::string_view_t(msg.data(), msg.size()));
}

Logger::Logger(std::string name, Fields fields)
    : name_(std::move(name)), fields_(std::move(fields)) {
  if (fields_.is_null()) fields_ = Fields::object();
  if (!fields_.is_object()) fields_ = Fields{{"fields", fields_}};
}

Logger Logger::with(const Fields& fields) const {
  Logger child(name_, fields_);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) child.fields_[it.key()] = it.value();
  } else if (!fields.is_null()) {
    child.fields_["fields"] = fields;
  }
  return child;
}

void Logger::write(Level level, std::string_view msg, const Fields& fields) const {
  if (!enabled(level)) return;
  if (fields.is_null() || fields.empty()) {
    log::write(level, msg, fields_, name_);
    return;
  }
  Fields all = fields_;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) all[it.key()] = it.value();
  } else {
    all["fields"] = fields;
  }
  log::write(level, msg, all, name_);
}

LogContext::LogContext(Fields fields) {
  tContext.push_back(std::move(fields));
}

LogContext::~LogContext() {
  tContext.pop_back();
}

Fields currentContext() {
  FieldList merged;
  for (const auto& c : tContext) merge(merged, c);
  Fields out = Fields::object();
  for (auto& [k, v] : merged) out[k] = std::move(v);
  return out;
}

}  // namespace kube::log
