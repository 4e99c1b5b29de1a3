#include "api/validation/field_error.h"

#include <charconv>
#include <set>

namespace kubec2::api {
namespace validation {
namespace {

using json = nlohmann::json;

std::string formatValue(const json& v) {
  if (v.is_null()) return "\"null\"";  // as field.Error prints a nil value
  if (v.is_string()) return goQuote(v.get<std::string>());
  if (v.is_number_float()) return formatNumber(v.get<double>());
  return v.dump();
}

// The JSON at a path as ApiTypeError names it (a.b[1].c); null when it cannot
// be found (map keys with dots are tried whole first).
const json* valueAtPath(const json& root, std::string_view path) {
  const json* cur = &root;
  size_t i = 0;
  while (i < path.size() && cur != nullptr) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos || !cur->is_array()) return nullptr;
      size_t idx = 0;
      for (size_t k = i + 1; k < close; ++k) idx = idx * 10 + static_cast<size_t>(path[k] - '0');
      if (idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
      i = close + 1;
      continue;
    }
    if (!cur->is_object()) return nullptr;
    // The longest key at this point that exists (tag keys may hold dots).
    size_t end = path.find_first_of(".[", i);
    const json* next = nullptr;
    size_t nextEnd = end;
    while (true) {
      const std::string key(path.substr(i, end == std::string_view::npos ? end : end - i));
      if (auto it = cur->find(key); it != cur->end()) {
        next = &*it;
        nextEnd = end;
      }
      if (end == std::string_view::npos || path[end] != '.') break;
      end = path.find_first_of(".[", end + 1);
    }
    if (next == nullptr) return nullptr;
    cur = next;
    i = nextEnd == std::string_view::npos ? path.size() : nextEnd;
  }
  return cur;
}

}  // namespace

FieldError invalid(std::string field, json value, std::string detail) {
  return {FieldError::Type::Invalid, std::move(field), std::move(value), std::move(detail)};
}
FieldError required(std::string field, std::string detail) {
  return {FieldError::Type::Required, std::move(field), nullptr, std::move(detail)};
}
FieldError forbidden(std::string field, std::string detail) {
  return {FieldError::Type::Forbidden, std::move(field), nullptr, std::move(detail)};
}
FieldError duplicate(std::string field, json value) {
  return {FieldError::Type::Duplicate, std::move(field), std::move(value), ""};
}
FieldError notFound(std::string field, json value, std::string detail) {
  return {FieldError::Type::NotFound, std::move(field), std::move(value), std::move(detail)};
}
FieldError internalError(std::string field, std::string detail) {
  return {FieldError::Type::Internal, std::move(field), nullptr, std::move(detail)};
}

std::string at(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string num(std::int64_t v) {
  return std::to_string(v);
}

std::string formatNumber(double d) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static const char* hex = "0123456789abcdef";
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

FieldError fromTypeError(const ApiTypeError& e, const json& root) {
  std::string problem = e.what();
  const std::string prefix = (e.path().empty() ? std::string("(root)") : e.path()) + ": ";
  if (problem.rfind(prefix, 0) == 0) problem = problem.substr(prefix.size());
  if (problem == "required") return required(e.path(), "");
  const json* v = valueAtPath(root, e.path());
  return invalid(e.path(), v != nullptr ? *v : json(nullptr), problem);
}

}  // namespace validation

std::string FieldError::message() const {
  return field.empty() ? body() : field + ": " + body();
}

std::string FieldError::body() const {
  std::string body;
  switch (type) {
    case Type::Invalid:
      body = "Invalid value: " + validation::formatValue(value);
      break;
    case Type::Duplicate:
      body = "Duplicate value: " + validation::formatValue(value);
      break;
    case Type::NotFound:
      body = "Not found: " + validation::formatValue(value);
      break;
    case Type::Required:
      body = "Required value";
      break;
    case Type::Forbidden:
      body = "Forbidden";
      break;
    case Type::Internal:
      body = "Internal error";
      break;
  }
  if (!detail.empty()) body += ": " + detail;
  return body;
}

std::string FieldError::causeType() const {
  switch (type) {
    case Type::Invalid:
      return "FieldValueInvalid";
    case Type::Required:
      return "FieldValueRequired";
    case Type::Forbidden:
      return "FieldValueForbidden";
    case Type::Duplicate:
      return "FieldValueDuplicate";
    case Type::NotFound:
      return "FieldValueNotFound";
    case Type::Internal:
      return "InternalError";
  }
  return "FieldValueInvalid";
}

std::string invalidMessage(const std::string& kind, const std::string& name,
                           const std::vector<FieldError>& errors) {
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const auto& e : errors) {
    std::string m = e.message();
    if (seen.insert(m).second) messages.push_back(std::move(m));
  }
  std::string joined;
  for (size_t i = 0; i < messages.size(); ++i) joined += (i ? ", " : "") + messages[i];
  if (messages.size() > 1) joined = "[" + joined + "]";
  return kind + ".compute.kubec2.io " + validation::goQuote(name) + " is invalid: " + joined;
}

}  // namespace kubec2::api
