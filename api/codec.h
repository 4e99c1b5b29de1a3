// JSON decoding and encoding shared by the generated API types
// (tools/apigen writes the structs; this header holds the pieces they call).
// Decoding names the JSON path of any mismatch, so the webhook and the
// controllers can report exactly which field is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::api {

// A field of the wrong JSON type, or a required field missing; what() is
// "PATH: PROBLEM", such as "spec.minSize: expected an integer".
class ApiTypeError : public std::invalid_argument {
 public:
  ApiTypeError(const std::string& path, const std::string& problem)
      : std::invalid_argument((path.empty() ? std::string("(root)") : path) + ": " + problem),
        path_(path) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Kubernetes' IntOrString: a port number or a port name, a count or a percentage.
struct IntOrString {
  std::variant<std::int64_t, std::string> value;
  bool isInt() const { return std::holds_alternative<std::int64_t>(value); }
  std::int64_t intValue() const { return std::get<std::int64_t>(value); }
  const std::string& stringValue() const { return std::get<std::string>(value); }
  bool operator==(const IntOrString&) const = default;
};

namespace codec {

inline std::string member(const std::string& path, const char* name) {
  return path.empty() ? std::string(name) : path + "." + name;
}
inline std::string element(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

template <typename T>
struct Tag {};

inline std::string decode(Tag<std::string>, const nlohmann::json& j, const std::string& path) {
  if (!j.is_string()) throw ApiTypeError(path, "expected a string");
  return j.get<std::string>();
}
inline std::int64_t decode(Tag<std::int64_t>, const nlohmann::json& j, const std::string& path) {
  if (!j.is_number_integer()) throw ApiTypeError(path, "expected an integer");
  // nlohmann keeps integers above int64's range as unsigned: refuse, not wrap.
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > INT64_MAX)
    throw ApiTypeError(path, "expected an integer of at most 9223372036854775807");
  return j.get<std::int64_t>();
}
inline double decode(Tag<double>, const nlohmann::json& j, const std::string& path) {
  if (!j.is_number()) throw ApiTypeError(path, "expected a number");
  return j.get<double>();
}
inline bool decode(Tag<bool>, const nlohmann::json& j, const std::string& path) {
  if (!j.is_boolean()) throw ApiTypeError(path, "expected true or false");
  return j.get<bool>();
}
inline IntOrString decode(Tag<IntOrString>, const nlohmann::json& j, const std::string& path) {
  if (j.is_number_integer()) return {decode(Tag<std::int64_t>{}, j, path)};
  if (j.is_string()) return {j.get<std::string>()};
  throw ApiTypeError(path, "expected an integer or a string");
}
inline nlohmann::json decode(Tag<nlohmann::json>, const nlohmann::json& j, const std::string&) {
  return j;
}
template <typename T>
auto decode(Tag<T>, const nlohmann::json& j, const std::string& path)
    -> decltype(T::fromJson(j, path)) {
  return T::fromJson(j, path);
}
template <typename T>
std::vector<T> decode(Tag<std::vector<T>>, const nlohmann::json& j, const std::string& path) {
  if (!j.is_array()) throw ApiTypeError(path, "expected a list");
  std::vector<T> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) out.push_back(decode(Tag<T>{}, j[i], element(path, i)));
  return out;
}
template <typename T>
std::map<std::string, T> decode(Tag<std::map<std::string, T>>, const nlohmann::json& j,
                                const std::string& path) {
  if (!j.is_object()) throw ApiTypeError(path, "expected an object");
  std::map<std::string, T> out;
  for (const auto& [k, v] : j.items()) out.emplace(k, decode(Tag<T>{}, v, path + "." + k));
  return out;
}

inline nlohmann::json encode(const std::string& v) {
  return v;
}
inline nlohmann::json encode(std::int64_t v) {
  return v;
}
inline nlohmann::json encode(double v) {
  return v;
}
inline nlohmann::json encode(bool v) {
  return v;
}
inline nlohmann::json encode(const nlohmann::json& v) {
  return v;
}
inline nlohmann::json encode(const IntOrString& v) {
  return v.isInt() ? nlohmann::json(v.intValue()) : nlohmann::json(v.stringValue());
}
template <typename T>
auto encode(const T& v) -> decltype(v.toJson()) {
  return v.toJson();
}
template <typename T>
nlohmann::json encode(const std::vector<T>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : v) out.push_back(encode(e));
  return out;
}
template <typename T>
nlohmann::json encode(const std::map<std::string, T>& v) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, e] : v) out[k] = encode(e);
  return out;
}

// Reads member `name` of object `j` into `out`: required members must be
// present; optional ones stay nullopt when absent (or null).
template <typename T>
void read(const nlohmann::json& j, const char* name, const std::string& path, T& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) throw ApiTypeError(member(path, name), "required");
  out = decode(Tag<T>{}, *it, member(path, name));
}
template <typename T>
void read(const nlohmann::json& j, const char* name, const std::string& path,
          std::optional<T>& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return;
  out = decode(Tag<T>{}, *it, member(path, name));
}
template <typename T>
void write(nlohmann::json& j, const char* name, const T& v) {
  j[name] = encode(v);
}
template <typename T>
void write(nlohmann::json& j, const char* name, const std::optional<T>& v) {
  if (v) j[name] = encode(*v);
}

// Unknown members are ignored, as the API server prunes them anyway; the
// round-trip tests compare whole objects, so a field the types miss shows.
inline void requireObject(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) throw ApiTypeError(path, "expected an object");
}

}  // namespace codec
}  // namespace kubec2::api
