#include "api/validation.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

#include "api/cron.h"
#include "api/v1alpha1/types.h"

namespace kubec2::api {
namespace {

namespace v1 = v1alpha1;
using json = nlohmann::json;
using Errors = std::vector<FieldError>;

// ---------------------------------------------------------------- error builders

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

std::string at(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
std::string num(std::int64_t v) {
  return std::to_string(v);
}

// Go's %v of a float64 (shortest representation), as field.Error prints numbers.
std::string formatDouble(double d) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

// Go's %q: field.Error quotes string values so.
std::string goQuote(const std::string& s) {
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

std::string formatValue(const json& v) {
  if (v.is_null()) return "\"null\"";  // as field.Error prints a nil value
  if (v.is_string()) return goQuote(v.get<std::string>());
  if (v.is_number_float()) return formatDouble(v.get<double>());
  return v.dump();
}

// ---------------------------------------------------------------- decoding

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

FieldError fromTypeError(const ApiTypeError& e, const json& root) {
  std::string problem = e.what();
  const std::string prefix = (e.path().empty() ? std::string("(root)") : e.path()) + ": ";
  if (problem.rfind(prefix, 0) == 0) problem = problem.substr(prefix.size());
  if (problem == "required") return required(e.path(), "");
  const json* v = valueAtPath(root, e.path());
  return invalid(e.path(), v != nullptr ? *v : json(nullptr), problem);
}

// Decodes `j` (at `path` of `root`) as T; a shape error becomes a FieldError.
template <typename T>
std::optional<T> decode(const json& j, const std::string& path, const json& root, Errors& errs) {
  try {
    return T::fromJson(j, path);
  } catch (const ApiTypeError& e) {
    errs.push_back(fromTypeError(e, root));
  } catch (const std::exception& e) {
    errs.push_back(invalid(path, nullptr, e.what()));
  }
  return std::nullopt;
}

template <typename T>
std::optional<T> decodeQuietly(const json& j, const std::string& path) {
  Errors ignored;
  return decode<T>(j, path, j, ignored);
}

// ---------------------------------------------------------------- RFC 3339

// Seconds since the epoch and nanoseconds of an RFC 3339 time.
std::optional<std::pair<long long, long long>> parseRfc3339(const std::string& s) {
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    if (pos + n > s.size()) return std::nullopt;
    int v = 0;
    for (size_t k = pos; k < pos + n; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
      v = v * 10 + (s[k] - '0');
    }
    return v;
  };
  const auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2),
             mi = digits(14, 2), se = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !se || s[4] != '-' || s[7] != '-' || s[13] != ':' ||
      s[16] != ':' || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
    return std::nullopt;
  size_t i = 19;
  long long nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (n < 9) nanos = nanos * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  long long offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const auto oh = digits(i + 1, 2), om = digits(i + 4, 2);
    if (!oh || !om || i + 3 >= s.size() || s[i + 3] != ':' || *oh > 23 || *om > 59)
      return std::nullopt;
    offset = (s[i] == '+' ? 1 : -1) * (*oh * 3600LL + *om * 60LL);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size() || *h > 23 || *mi > 59 || *se > 59) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{*y} / month{static_cast<unsigned>(*mo)} /
                           day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  const long long days = sys_days{ymd}.time_since_epoch().count();
  return std::make_pair(days * 86400 + *h * 3600LL + *mi * 60LL + *se - offset, nanos);
}

// ---------------------------------------------------------------- PromQL

// A syntax check of PromQL, by recursive descent over Prometheus' grammar:
// selectors with matchers, ranges, subqueries, offset and @, function calls,
// aggregations with by/without before or after, binary operators with
// bool/on/ignoring/group_left/group_right, numbers, durations and strings.
// It does not type-check (a range vector where an instant one is needed
// passes): the webhook catches typos; Prometheus reports the rest and the
// policy's ScalingActive condition shows it.
class PromQLChecker {
 public:
  // The problem, or nullopt when the query parses.
  static std::optional<std::string> check(std::string_view query) {
    PromQLChecker p(query);
    try {
      p.lex();
      if (p.tokens_.size() == 1) return "the query is empty";
      p.expr(0);
      if (p.peek().kind != Kind::End) p.unexpected();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::nullopt;
  }

 private:
  enum class Kind { End, Ident, Number, Duration, String, Op, Punct };
  struct Token {
    Kind kind;
    std::string text;
    size_t pos;  // 1-based
  };

  explicit PromQLChecker(std::string_view q) : q_(q) {}

  [[noreturn]] static void fail(const std::string& what, size_t pos) {
    throw std::invalid_argument(what + " at position " + std::to_string(pos));
  }
  [[noreturn]] void unexpected() const {
    const Token& t = peek();
    if (t.kind == Kind::End) fail("unexpected end of query", t.pos);
    fail("unexpected " + goQuote(t.text), t.pos);
  }

  static bool identStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  }
  static bool identChar(char c) {
    return identStart(c) || std::isdigit(static_cast<unsigned char>(c));
  }
  static bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

  void lex() {
    size_t i = 0;
    const size_t n = q_.size();
    int inBrackets = 0;  // inside [...] a ':' separates range and step, as in Prometheus' lexer
    while (i < n) {
      const char c = q_[i];
      const size_t start = i;
      if (c == '[') ++inBrackets;
      if (c == ']' && inBrackets > 0) --inBrackets;
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == ':' && inBrackets > 0) {
        ++i;
        push(Kind::Punct, start, i);
      } else if (c == '#') {  // a comment, to the end of the line
        while (i < n && q_[i] != '\n') ++i;
      } else if (identStart(c)) {
        while (i < n && identChar(q_[i])) ++i;
        push(Kind::Ident, start, i);
      } else if (digit(c) || (c == '.' && i + 1 < n && digit(q_[i + 1]))) {
        i = lexNumber(i);
      } else if (c == '"' || c == '\'' || c == '`') {
        ++i;
        while (i < n && q_[i] != c) {
          if (q_[i] == '\\' && c != '`') ++i;
          if (c != '`' && i < n && q_[i] == '\n') fail("newline in string", i + 1);
          ++i;
        }
        if (i >= n) fail("unterminated string", start + 1);
        ++i;
        push(Kind::String, start, i);
      } else if (std::string_view("(){}[],:@").find(c) != std::string_view::npos) {
        ++i;
        push(Kind::Punct, start, i);
      } else {
        static const char* ops[] = {"==", "!=", "<=", ">=", "=~", "!~", "<", ">",
                                    "+",  "-",  "*",  "/",  "%",  "^",  "="};
        bool found = false;
        for (const char* op : ops) {
          const std::string_view o(op);
          if (q_.substr(i, o.size()) == o) {
            i += o.size();
            push(Kind::Op, start, i);
            found = true;
            break;
          }
        }
        if (!found) fail("unexpected character " + goQuote(std::string(1, c)), i + 1);
      }
    }
    tokens_.push_back({Kind::End, "", n + 1});
  }

  // A number (decimal, float, hex) or a duration (5m, 1h30m, 250ms).
  size_t lexNumber(size_t i) {
    const size_t start = i;
    const size_t n = q_.size();
    if (q_.substr(i, 2) == "0x" || q_.substr(i, 2) == "0X") {
      i += 2;
      while (i < n && std::isxdigit(static_cast<unsigned char>(q_[i]))) ++i;
      push(Kind::Number, start, i);
      return i;
    }
    while (i < n && digit(q_[i])) ++i;
    auto unit = [&](size_t k) -> size_t {  // length of a duration unit at k
      if (q_.substr(k, 2) == "ms") return 2;
      // A unit ends where no name letter follows; ':' may follow (x[5m:1m]).
      if (k < n && std::string_view("smhdwy").find(q_[k]) != std::string_view::npos &&
          !(k + 1 < n && identChar(q_[k + 1]) && !digit(q_[k + 1]) && q_[k + 1] != ':'))
        return 1;
      return 0;
    };
    if (size_t u = unit(i); u > 0) {
      i += u;
      while (i < n && digit(q_[i])) {  // 1h30m
        size_t k = i;
        while (k < n && digit(q_[k])) ++k;
        const size_t u2 = unit(k);
        if (u2 == 0) fail("bad duration", start + 1);
        i = k + u2;
      }
      push(Kind::Duration, start, i);
      return i;
    }
    if (i < n && q_[i] == '.') {
      ++i;
      while (i < n && digit(q_[i])) ++i;
    }
    if (i < n && (q_[i] == 'e' || q_[i] == 'E')) {
      size_t k = i + 1;
      if (k < n && (q_[k] == '+' || q_[k] == '-')) ++k;
      if (k < n && digit(q_[k])) {
        while (k < n && digit(q_[k])) ++k;
        i = k;
      }
    }
    if (i < n && identChar(q_[i])) fail("bad number", start + 1);
    push(Kind::Number, start, i);
    return i;
  }

  void push(Kind k, size_t begin, size_t end) {
    tokens_.push_back({k, std::string(q_.substr(begin, end - begin)), begin + 1});
  }

  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool is(Kind k, std::string_view text, size_t ahead = 0) const {
    return peek(ahead).kind == k && peek(ahead).text == text;
  }
  bool isKeyword(std::string_view word, size_t ahead = 0) const {
    if (peek(ahead).kind != Kind::Ident) return false;
    std::string lower = peek(ahead).text;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return lower == word;
  }
  void expect(Kind k, std::string_view text) {
    if (!is(k, text)) {
      const Token& t = peek();
      fail("expected " + goQuote(std::string(text)) + " but found " +
               (t.kind == Kind::End ? std::string("the end of the query") : goQuote(t.text)),
           t.pos);
    }
    ++pos_;
  }

  struct DepthGuard {
    explicit DepthGuard(PromQLChecker& p) : p_(p) {
      if (++p_.depth_ > 200) fail("nested too deeply", p_.peek().pos);
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    PromQLChecker& p_;
  };

  // Binary operator precedence, 0 when the next token is not one.
  int binaryPrecedence() const {
    const Token& t = peek();
    if (t.kind == Kind::Op) {
      if (t.text == "^") return 6;
      if (t.text == "*" || t.text == "/" || t.text == "%") return 5;
      if (t.text == "+" || t.text == "-") return 4;
      if (t.text == "==" || t.text == "!=" || t.text == "<=" || t.text == ">=" || t.text == "<" ||
          t.text == ">")
        return 3;
      return 0;
    }
    if (isKeyword("atan2")) return 5;
    if (isKeyword("and") || isKeyword("unless")) return 2;
    if (isKeyword("or")) return 1;
    return 0;
  }

  void expr(int minPrecedence) {
    DepthGuard guard(*this);
    unary();
    while (true) {
      const int prec = binaryPrecedence();
      if (prec == 0 || prec < minPrecedence) return;
      ++pos_;
      if (prec == 3 && isKeyword("bool")) ++pos_;
      if (isKeyword("on") || isKeyword("ignoring")) {
        ++pos_;
        labelList();
      }
      if (isKeyword("group_left") || isKeyword("group_right")) {
        ++pos_;
        if (is(Kind::Punct, "(")) labelList();
      }
      expr(prec == 6 ? prec : prec + 1);  // ^ is right-associative
    }
  }

  void unary() {
    DepthGuard guard(*this);
    if (is(Kind::Op, "+") || is(Kind::Op, "-")) {
      ++pos_;
      unary();
      return;
    }
    primary();
    postfix();
  }

  void postfix() {
    while (true) {
      if (is(Kind::Punct, "[")) {  // range [5m] or subquery [1h:1m] / [1h:]
        ++pos_;
        duration();
        if (is(Kind::Punct, ":")) {
          ++pos_;
          if (!is(Kind::Punct, "]")) duration();
        }
        expect(Kind::Punct, "]");
      } else if (isKeyword("offset")) {
        ++pos_;
        if (is(Kind::Op, "-")) ++pos_;
        duration();
      } else if (is(Kind::Punct, "@")) {
        ++pos_;
        if (isKeyword("start") || isKeyword("end")) {
          ++pos_;
          expect(Kind::Punct, "(");
          expect(Kind::Punct, ")");
        } else {
          if (is(Kind::Op, "-") || is(Kind::Op, "+")) ++pos_;
          if (peek().kind != Kind::Number) unexpected();
          ++pos_;
        }
      } else {
        return;
      }
    }
  }

  void duration() {
    if (peek().kind != Kind::Duration) {
      const Token& t = peek();
      fail("expected a duration such as 5m but found " +
               (t.kind == Kind::End ? std::string("the end of the query") : goQuote(t.text)),
           t.pos);
    }
    ++pos_;
  }

  void primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Kind::Number:
      case Kind::String:
        ++pos_;
        return;
      case Kind::Punct:
        if (t.text == "(") {
          ++pos_;
          expr(0);
          expect(Kind::Punct, ")");
          return;
        }
        if (t.text == "{") {
          if (matchers() == 0) fail("a selector needs a metric name or a matcher", t.pos);
          return;
        }
        unexpected();
      case Kind::Ident:
        break;
      default:
        unexpected();
    }
    static const std::set<std::string> keywords = {"and",         "or",   "unless",   "by",
                                                   "without",     "on",   "ignoring", "group_left",
                                                   "group_right", "bool", "offset",   "atan2"};
    static const std::set<std::string> aggregations = {
        "sum",   "min",          "max",     "avg",  "group",    "stddev", "stdvar",
        "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"};
    std::string lower = t.text;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (keywords.count(lower)) unexpected();
    if (lower == "inf" || lower == "nan") {
      ++pos_;
      return;
    }
    if (aggregations.count(lower) &&
        (is(Kind::Punct, "(", 1) || isKeyword("by", 1) || isKeyword("without", 1))) {
      ++pos_;
      bool grouped = false;
      if (isKeyword("by") || isKeyword("without")) {
        ++pos_;
        labelList();
        grouped = true;
      }
      arguments();
      if (!grouped && (isKeyword("by") || isKeyword("without"))) {
        ++pos_;
        labelList();
      }
      return;
    }
    ++pos_;
    if (is(Kind::Punct, "(")) {  // a function call
      arguments();
      return;
    }
    if (is(Kind::Punct, "{")) matchers();
  }

  void arguments() {
    expect(Kind::Punct, "(");
    if (is(Kind::Punct, ")")) {
      ++pos_;
      return;
    }
    while (true) {
      expr(0);
      if (is(Kind::Punct, ",")) {
        ++pos_;
        continue;
      }
      expect(Kind::Punct, ")");
      return;
    }
  }

  // {label="v", ...}: returns how many matchers there are.
  int matchers() {
    expect(Kind::Punct, "{");
    int count = 0;
    while (!is(Kind::Punct, "}")) {
      if (peek().kind != Kind::Ident && peek().kind != Kind::String) unexpected();
      ++pos_;
      const Token& op = peek();
      if (op.kind != Kind::Op ||
          (op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~"))
        fail("expected a label matcher (=, !=, =~ or !~) but found " +
                 (op.kind == Kind::End ? std::string("the end of the query") : goQuote(op.text)),
             op.pos);
      ++pos_;
      if (peek().kind != Kind::String)
        fail("expected a quoted label value but found " + (peek().kind == Kind::End
                                                               ? std::string("the end of the query")
                                                               : goQuote(peek().text)),
             peek().pos);
      ++pos_;
      ++count;
      if (is(Kind::Punct, ",")) {
        ++pos_;
        continue;
      }
      if (!is(Kind::Punct, "}")) unexpected();
    }
    ++pos_;
    return count;
  }

  // (label, ...) after by, without, on, ignoring, group_left and group_right.
  void labelList() {
    expect(Kind::Punct, "(");
    while (!is(Kind::Punct, ")")) {
      if (peek().kind != Kind::Ident) unexpected();
      ++pos_;
      if (is(Kind::Punct, ",")) {
        ++pos_;
        continue;
      }
      if (!is(Kind::Punct, ")")) unexpected();
    }
    ++pos_;
  }

  std::string_view q_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------- shared rules

struct Context {
  const json& root;        // the whole new object, for values in type errors
  std::string namespace_;  // metadata.namespace
  const TimeZoneExists& tz;
  Errors errs;
};

bool isBlank(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; });
}

void checkQuery(Context& c, const std::string& path, const std::string& query) {
  if (isBlank(query)) {
    c.errs.push_back(invalid(path, query, "must be a PromQL query, not empty"));
    return;
  }
  if (auto problem = PromQLChecker::check(query))
    c.errs.push_back(invalid(path, query, "must be a PromQL query that parses: " + *problem));
}

// Kubernetes' own label selector rules (metav1validation.ValidateLabelSelector).
void checkSelector(Context& c, const std::string& path, const v1::LabelSelector& s) {
  if (!s.matchExpressions) return;
  for (size_t i = 0; i < s.matchExpressions->size(); ++i) {
    const auto& r = (*s.matchExpressions)[i];
    const std::string p = at(path + ".matchExpressions", i) + ".values";
    const bool hasValues = r.values && !r.values->empty();
    if ((r.operator_ == "In" || r.operator_ == "NotIn") && !hasValues)
      c.errs.push_back(required(p, "must be specified when `operator` is 'In' or 'NotIn'"));
    if ((r.operator_ == "Exists" || r.operator_ == "DoesNotExist") && hasValues)
      c.errs.push_back(
          forbidden(p, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
  }
}

size_t utf8Length(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

// The launch fields an Instance and a LaunchTemplate version share (LaunchSpec).
template <typename Spec>
void checkLaunchFields(Context& c, const std::string& path, const Spec& s) {
  if (s.tags) {
    for (const auto& [key, value] : *s.tags) {
      const size_t len = utf8Length(key);
      if (len < 1 || len > 128)
        c.errs.push_back(invalid(path + ".tags", key, "tag keys must be 1 to 128 characters long"));
      std::string prefix = key.substr(0, 7);
      for (auto& ch : prefix) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (prefix == "kubec2:")
        c.errs.push_back(invalid(path + ".tags", key,
                                 "tag keys must not start with \"kubec2:\", which the operator "
                                 "reserves for its own tags"));
    }
  }
  if (s.volumes) {
    if (s.volumes->root && s.image && s.image->containerDisk)
      c.errs.push_back(forbidden(
          path + ".volumes.root",
          "must not be set with a containerDisk image (" + path +
              ".image.containerDisk), whose root disk is ephemeral: use an http, registry or pvc "
              "image for a persistent root volume"));
    if (s.volumes->extra) {
      std::set<std::string> seen;
      for (size_t i = 0; i < s.volumes->extra->size(); ++i) {
        const std::string& name = (*s.volumes->extra)[i].name;
        const std::string p = at(path + ".volumes.extra", i) + ".name";
        if (name == "root" || name == "cloudinit")
          c.errs.push_back(
              invalid(p, name, "is reserved: root and cloudinit name the instance's own disks"));
        else if (!seen.insert(name).second)
          c.errs.push_back(duplicate(p, name));
      }
    }
  }
  if (s.securityGroups) {
    std::set<std::string> seen;
    for (size_t g = 0; g < s.securityGroups->size(); ++g) {
      const auto& group = (*s.securityGroups)[g];
      const std::string gp = at(path + ".securityGroups", g);
      if (!seen.insert(group.name).second) c.errs.push_back(duplicate(gp + ".name", group.name));
      if (!group.ingress) continue;
      for (size_t r = 0; r < group.ingress->size(); ++r) {
        const auto& rule = (*group.ingress)[r];
        const std::string rp = at(gp + ".ingress", r);
        if (rule.protocol.value_or("tcp") == "all") {
          for (const auto& [name, port] :
               {std::pair{"fromPort", rule.fromPort}, std::pair{"toPort", rule.toPort}})
            if (port)
              c.errs.push_back(forbidden(rp + "." + name,
                                         "ports apply to tcp, udp and sctp only: protocol all "
                                         "allows every port"));
        } else if (rule.toPort && !rule.fromPort) {
          c.errs.push_back(forbidden(rp + ".toPort",
                                     "may only be set with fromPort: a port range starts at "
                                     "fromPort"));
        } else if (rule.toPort && *rule.toPort < *rule.fromPort) {
          c.errs.push_back(
              invalid(rp + ".toPort", *rule.toPort,
                      "must be greater than or equal to fromPort (" + num(*rule.fromPort) + ")"));
        }
        for (size_t k = 0; k < rule.sources.size(); ++k)
          if (rule.sources[k].instanceSelector)
            checkSelector(c, at(rp + ".sources", k) + ".instanceSelector",
                          *rule.sources[k].instanceSelector);
      }
    }
  }
}

// Members naming another object: a namespace there must be the object's own.
bool isReferenceKey(const std::string& key) {
  auto endsWith = [&](std::string_view suffix) {
    return key.size() >= suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return endsWith("Ref") || endsWith("Refs") || key == "pvc" || key == "certificate" ||
         key == "keyPair";
}

void checkReferenceNamespace(Context& c, const std::string& path, const json& ref) {
  auto it = ref.find("namespace");
  if (it == ref.end() || it->is_null()) return;
  if (it->is_string() && (it->get<std::string>().empty() || *it == c.namespace_)) return;
  c.errs.push_back(
      invalid(path + ".namespace", *it,
              c.namespace_.empty()
                  ? "must be absent: kubec2 objects refer only to objects of their own namespace"
                  : "must be absent or the object's own namespace (" + c.namespace_ +
                        "): kubec2 objects refer only to objects of their own namespace"));
}

// The schema prunes unknown members on the API server, but validate() also
// serves callers that do not; the walk is bounded so deep JSON stays cheap.
void checkReferenceNamespaces(Context& c, const json& j, const std::string& path, int depth) {
  if (depth > 32) return;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      const std::string p = path + "." + key;
      if (isReferenceKey(key)) {
        if (value.is_object()) checkReferenceNamespace(c, p, value);
        if (value.is_array())
          for (size_t i = 0; i < value.size(); ++i)
            if (value[i].is_object()) checkReferenceNamespace(c, at(p, i), value[i]);
      }
      checkReferenceNamespaces(c, value, p, depth + 1);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) checkReferenceNamespaces(c, j[i], at(path, i), depth + 1);
  }
}

// ---------------------------------------------------------------- Instance

void validateInstance(Context& c, const json& specJson, const json* oldSpecJson) {
  const auto spec = decode<v1::InstanceSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  if (!spec->launchTemplateRef) {
    if (!spec->image)
      c.errs.push_back(required("spec.image",
                                "an Instance without spec.launchTemplateRef must set the image "
                                "it launches from"));
    if (!spec->instanceType)
      c.errs.push_back(required("spec.instanceType",
                                "an Instance without spec.launchTemplateRef must set its "
                                "instance type"));
  }
  checkLaunchFields(c, "spec", *spec);
  if (oldSpecJson == nullptr) return;
  const auto old = decodeQuietly<v1::InstanceSpec>(*oldSpecJson, "spec");
  if (!old) return;

  auto immutable = [&](const char* field, bool same, const json& value) {
    if (!same)
      c.errs.push_back(invalid(std::string("spec.") + field, value,
                               "field is immutable: it cannot change after the Instance is "
                               "created"));
  };
  auto toJson = [](const auto& opt) { return opt ? opt->toJson() : json(nullptr); };
  immutable("image", spec->image == old->image, toJson(spec->image));
  auto normalized = [](std::optional<v1::LaunchTemplateRef> r) {
    if (r && !r->version) r->version = "$Default";  // the schema default
    return r;
  };
  immutable("launchTemplateRef",
            normalized(spec->launchTemplateRef) == normalized(old->launchTemplateRef),
            toJson(spec->launchTemplateRef));
  immutable("keyPair", spec->keyPair == old->keyPair, toJson(spec->keyPair));
  immutable("availabilityZone", spec->availabilityZone == old->availabilityZone,
            spec->availabilityZone ? json(*spec->availabilityZone) : json(nullptr));

  // Volumes grow but never shrink.
  auto noShrink = [&](const std::string& path, std::optional<std::int64_t> now,
                      std::int64_t before) {
    const std::string detail = "must not be less than the current size, " + num(before) +
                               " GiB: a volume can grow but never shrink";
    if (!now)
      c.errs.push_back(required(path, detail));
    else if (*now < before)
      c.errs.push_back(invalid(path, *now, detail));
  };
  // The root volume's size in force: the one set, else 10 GiB for http and
  // registry images; a pvc clone's default (the source's size) is unknown here.
  auto rootSize = [](const v1::InstanceSpec& s) -> std::optional<std::int64_t> {
    if (s.volumes && s.volumes->root && s.volumes->root->sizeGiB) return *s.volumes->root->sizeGiB;
    if (s.image && (s.image->http || s.image->registry)) return 10;
    return std::nullopt;
  };
  const auto rootBefore = rootSize(*old);
  const auto rootNow = rootSize(*spec);
  const auto& newVolumes = spec->volumes;
  const bool rootSet = newVolumes && newVolumes->root && newVolumes->root->sizeGiB;
  if (rootBefore && old->volumes && old->volumes->root && old->volumes->root->sizeGiB && !rootSet)
    noShrink("spec.volumes.root.sizeGiB", std::nullopt, *rootBefore);  // removing it shrinks
  else if (rootBefore && rootNow)
    noShrink("spec.volumes.root.sizeGiB", *rootNow, *rootBefore);
  const auto& oldVolumes = old->volumes;
  if (oldVolumes && oldVolumes->extra && newVolumes && newVolumes->extra) {
    for (size_t i = 0; i < newVolumes->extra->size(); ++i) {
      const auto& v = (*newVolumes->extra)[i];
      for (const auto& o : *oldVolumes->extra)
        if (o.name == v.name)
          noShrink(at("spec.volumes.extra", i) + ".sizeGiB", v.sizeGiB, o.sizeGiB);
    }
  }
}

void validateInstanceDelete(Context& c, const json& oldObject) {
  if (!oldObject.is_object()) return;
  const auto spec = oldObject.find("spec");
  if (spec == oldObject.end() || !spec->is_object()) return;
  const auto flag = spec->find("disableApiTermination");
  if (flag != spec->end() && flag->is_boolean() && flag->get<bool>())
    c.errs.push_back(
        forbidden("spec.disableApiTermination",
                  "the Instance has termination protection (OperationNotPermitted): set "
                  "spec.disableApiTermination to false first, then delete it"));
}

// ---------------------------------------------------------------- LaunchTemplate

void validateLaunchTemplate(Context& c, const json& specJson, const json* oldSpecJson) {
  const auto spec = decode<v1::LaunchTemplateSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  const size_t n = spec->versions.size();
  const std::int64_t defaultVersion = spec->defaultVersion.value_or(1);
  if (defaultVersion > static_cast<std::int64_t>(n))
    c.errs.push_back(invalid("spec.defaultVersion", defaultVersion,
                             "must be at most the number of versions in spec.versions (" +
                                 std::to_string(n) + "): there is no version " +
                                 num(defaultVersion)));

  const json* oldVersions = nullptr;
  if (oldSpecJson != nullptr && oldSpecJson->is_object())
    if (auto it = oldSpecJson->find("versions"); it != oldSpecJson->end() && it->is_array())
      oldVersions = &*it;
  const json& newVersions = specJson.at("versions");
  for (size_t i = 0; i < n; ++i) {
    const std::string p = at("spec.versions", i);
    if (oldVersions != nullptr && i < oldVersions->size()) {
      // Published: it must stay as it is, and it was checked when published.
      if (newVersions[i] != (*oldVersions)[i])
        c.errs.push_back(forbidden(
            p, "version " + std::to_string(i + 1) +
                   " is published and cannot change or move: append a new version instead (and "
                   "move spec.defaultVersion to it)"));
      continue;
    }
    checkLaunchFields(c, p + ".spec", spec->versions[i].spec);
  }
  if (oldVersions != nullptr && n < oldVersions->size())
    c.errs.push_back(forbidden(
        "spec.versions", "published versions cannot be removed: the template has " +
                             std::to_string(oldVersions->size()) + " versions, the update leaves " +
                             std::to_string(n) + "; versions are only appended"));
}

// ---------------------------------------------------------------- ScalingGroup

bool contains(const std::optional<std::vector<v1::LocalObjectReference>>& refs,
              const std::string& name) {
  return refs &&
         std::any_of(refs->begin(), refs->end(), [&](const auto& r) { return r.name == name; });
}

// resourceLabel: required with one metric, refused with any other, and a
// LoadBalancer of spec.loadBalancerRefs.
void checkResourceLabel(Context& c, const v1::ScalingGroupSpec& sg, const std::string& path,
                        const char* metricField, const std::optional<std::string>& metric,
                        const char* metricNeedingIt, const std::optional<std::string>& label) {
  const bool needs = metric && *metric == metricNeedingIt;
  const std::string p = path + ".resourceLabel";
  if (needs && !label)
    c.errs.push_back(required(p, std::string("must name the LoadBalancer of spec.loadBalancerRefs "
                                             "whose requests are counted, with ") +
                                     metricField + " " + metricNeedingIt));
  else if (!needs && label)
    c.errs.push_back(
        forbidden(p, std::string("may only be set with ") + metricField + " " + metricNeedingIt));
  else if (needs && !contains(sg.loadBalancerRefs, *label))
    c.errs.push_back(notFound(p, *label, "must name a LoadBalancer of spec.loadBalancerRefs"));
}

// Exactly one of two members.
void checkExactlyOne(Context& c, const std::string& path, bool first, const char* firstName,
                     bool second, const char* secondName) {
  if (!first && !second)
    c.errs.push_back(required(
        path, std::string("exactly one of ") + firstName + " and " + secondName + " must be set"));
  else if (first && second)
    c.errs.push_back(
        forbidden(path + "." + secondName, std::string("may not be set together with ") +
                                               firstName + ": exactly one of them must be set"));
}

void checkStepAdjustments(Context& c, const std::string& path,
                          const std::vector<v1::StepAdjustment>& steps) {
  const size_t errorsBefore = c.errs.size();
  std::optional<size_t> openLower, openUpper;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& s = steps[i];
    const std::string p = at(path, i);
    if (!s.metricIntervalLowerBound && !s.metricIntervalUpperBound) {
      c.errs.push_back(required(p + ".metricIntervalLowerBound",
                                "a step needs metricIntervalLowerBound, metricIntervalUpperBound "
                                "or both"));
      continue;
    }
    if (s.metricIntervalLowerBound && s.metricIntervalUpperBound &&
        !(*s.metricIntervalLowerBound < *s.metricIntervalUpperBound))
      c.errs.push_back(invalid(p + ".metricIntervalUpperBound", *s.metricIntervalUpperBound,
                               "must be greater than metricIntervalLowerBound (" +
                                   formatDouble(*s.metricIntervalLowerBound) + ")"));
    if (!s.metricIntervalLowerBound) {
      if (openLower)
        c.errs.push_back(required(
            p + ".metricIntervalLowerBound",
            "only one step may have no lower bound, and " + at(path, *openLower) + " has none"));
      else
        openLower = i;
    }
    if (!s.metricIntervalUpperBound) {
      if (openUpper)
        c.errs.push_back(required(
            p + ".metricIntervalUpperBound",
            "only one step may have no upper bound, and " + at(path, *openUpper) + " has none"));
      else
        openUpper = i;
    }
  }
  if (c.errs.size() != errorsBefore) return;  // contiguity only means something past those

  // Sorted by lower bound, each interval must start where the one before ends.
  std::vector<size_t> order(steps.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto lower = [&](size_t i) {
    return steps[i].metricIntervalLowerBound.value_or(-std::numeric_limits<double>::infinity());
  };
  auto upper = [&](size_t i) {
    return steps[i].metricIntervalUpperBound.value_or(std::numeric_limits<double>::infinity());
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lower(a) < lower(b); });
  for (size_t k = 1; k < order.size(); ++k) {
    const size_t a = order[k - 1], b = order[k];
    const std::string p = at(path, b) + ".metricIntervalLowerBound";
    const json value = steps[b].metricIntervalLowerBound ? json(*steps[b].metricIntervalLowerBound)
                                                         : json(nullptr);
    if (upper(a) < lower(b))
      c.errs.push_back(invalid(p, value,
                               "leaves a gap after " + at(path, a) +
                                   ", whose metricIntervalUpperBound is " + formatDouble(upper(a)) +
                                   ": must equal it"));
    else if (upper(a) > lower(b))
      c.errs.push_back(invalid(
          p, value,
          "overlaps " + at(path, a) + ", which ends at " +
              (steps[a].metricIntervalUpperBound ? formatDouble(upper(a))
                                                 : std::string("plus infinity (no upper bound)")) +
              ": intervals must not overlap"));
  }
}

void validatePolicy(Context& c, const v1::ScalingGroupSpec& sg, const std::string& p,
                    const v1::ScalingPolicy& policy) {
  const std::vector<std::pair<std::string, bool>> configs = {
      {"TargetTracking", policy.targetTracking.has_value()},
      {"StepScaling", policy.stepScaling.has_value()},
      {"Predictive", policy.predictive.has_value()}};
  const std::map<std::string, std::string> member = {{"TargetTracking", "targetTracking"},
                                                     {"StepScaling", "stepScaling"},
                                                     {"Predictive", "predictive"}};
  for (const auto& [type, present] : configs) {
    const std::string m = member.at(type);
    if (type == policy.type && !present)
      c.errs.push_back(required(p + "." + m, "must be set for a " + type + " policy"));
    if (type != policy.type && present)
      c.errs.push_back(forbidden(p + "." + m, "may not be set for a " + policy.type +
                                                  " policy: only the configuration of its type "
                                                  "applies"));
  }

  if (policy.type == "TargetTracking" && policy.targetTracking) {
    const auto& t = *policy.targetTracking;
    const std::string tp = p + ".targetTracking";
    checkExactlyOne(c, tp, t.predefinedMetric.has_value(), "predefinedMetric",
                    t.customMetric.has_value(), "customMetric");
    checkResourceLabel(c, sg, tp, "predefinedMetric", t.predefinedMetric,
                       "ALBRequestCountPerTarget", t.resourceLabel);
    if (t.customMetric) checkQuery(c, tp + ".customMetric.query", t.customMetric->query);
  }

  if (policy.type == "StepScaling" && policy.stepScaling) {
    const auto& s = *policy.stepScaling;
    const std::string sp = p + ".stepScaling";
    if (s.minAdjustmentMagnitude && s.adjustmentType != "PercentChangeInCapacity")
      c.errs.push_back(forbidden(sp + ".minAdjustmentMagnitude",
                                 "may only be set with adjustmentType PercentChangeInCapacity"));
    if (s.adjustmentType == "ExactCapacity")
      for (size_t i = 0; i < s.stepAdjustments.size(); ++i)
        if (s.stepAdjustments[i].scalingAdjustment < 0)
          c.errs.push_back(invalid(at(sp + ".stepAdjustments", i) + ".scalingAdjustment",
                                   s.stepAdjustments[i].scalingAdjustment,
                                   "must not be negative with adjustmentType ExactCapacity: it is "
                                   "the capacity to set"));
    const auto& a = s.alarm;
    const std::string ap = sp + ".alarm";
    checkExactlyOne(c, ap, a.predefinedMetric.has_value(), "predefinedMetric",
                    a.customMetric.has_value(), "customMetric");
    checkResourceLabel(c, sg, ap, "predefinedMetric", a.predefinedMetric, "RequestCountPerTarget",
                       a.resourceLabel);
    if (a.customMetric) {
      checkQuery(c, ap + ".customMetric.query", a.customMetric->query);
      if (s.metricAggregationType)
        c.errs.push_back(forbidden(sp + ".metricAggregationType",
                                   "may not be set with alarm.customMetric: the query aggregates "
                                   "the instances' values itself"));
    }
    const std::int64_t period = a.periodSeconds.value_or(60);
    if (period != 10 && period != 30 && period % 60 != 0)
      c.errs.push_back(
          invalid(ap + ".periodSeconds", period, "must be 10, 30 or a multiple of 60"));
    checkStepAdjustments(c, sp + ".stepAdjustments", s.stepAdjustments);
  }

  if (policy.type == "Predictive" && policy.predictive) {
    const auto& pr = *policy.predictive;
    const std::string pp = p + ".predictive";
    checkExactlyOne(c, pp, pr.predefinedMetricPair.has_value(), "predefinedMetricPair",
                    pr.customMetric.has_value(), "customMetric");
    checkResourceLabel(c, sg, pp, "predefinedMetricPair", pr.predefinedMetricPair,
                       "ALBRequestCount", pr.resourceLabel);
    if (pr.customMetric) {
      checkQuery(c, pp + ".customMetric.loadQuery", pr.customMetric->loadQuery);
      if (pr.customMetric->scalingQuery)
        checkQuery(c, pp + ".customMetric.scalingQuery", *pr.customMetric->scalingQuery);
    }
    if (pr.maxCapacityBuffer &&
        pr.maxCapacityBreachBehavior.value_or("HonorMaxCapacity") != "IncreaseMaxCapacity")
      c.errs.push_back(forbidden(pp + ".maxCapacityBuffer",
                                 "may only be set with maxCapacityBreachBehavior "
                                 "IncreaseMaxCapacity"));
  }
}

void validateAction(Context& c, const std::string& p, const v1::ScheduledAction& a) {
  if (!a.minSize && !a.maxSize && !a.desiredCapacity)
    c.errs.push_back(
        required(p, "at least one of minSize, maxSize and desiredCapacity must be set"));
  if (a.minSize && a.maxSize && *a.minSize > *a.maxSize)
    c.errs.push_back(
        invalid(p + ".minSize", *a.minSize,
                "must be less than or equal to " + p + ".maxSize (" + num(*a.maxSize) + ")"));
  if (a.desiredCapacity) {
    if (a.minSize && *a.desiredCapacity < *a.minSize)
      c.errs.push_back(
          invalid(p + ".desiredCapacity", *a.desiredCapacity,
                  "must be greater than or equal to " + p + ".minSize (" + num(*a.minSize) + ")"));
    else if (a.maxSize && *a.desiredCapacity > *a.maxSize)
      c.errs.push_back(
          invalid(p + ".desiredCapacity", *a.desiredCapacity,
                  "must be less than or equal to " + p + ".maxSize (" + num(*a.maxSize) + ")"));
  }
  if (a.recurrence) {
    try {
      (void)CronSchedule::parse(*a.recurrence);
    } catch (const std::invalid_argument& e) {
      c.errs.push_back(invalid(p + ".recurrence", *a.recurrence,
                               std::string("must be a cron expression (minute hour day-of-month "
                                           "month day-of-week): ") +
                                   e.what()));
    }
  } else {
    if (!a.startTime)
      c.errs.push_back(
          required(p + ".startTime", "an action without recurrence runs once, at startTime"));
    if (a.endTime)
      c.errs.push_back(forbidden(p + ".endTime",
                                 "may only be set with recurrence: an action without one runs "
                                 "once, at startTime"));
  }
  const std::string zone = a.timeZone.value_or("UTC");
  if (!c.tz(zone))
    c.errs.push_back(invalid(p + ".timeZone", zone,
                             "must be an IANA time zone the operator's time zone database "
                             "knows, such as UTC, Europe/Paris or America/New_York"));
  std::optional<std::pair<long long, long long>> start, end;
  const std::string rfc3339 = "must be an RFC 3339 time such as 2025-11-28T06:00:00Z";
  if (a.startTime && !(start = parseRfc3339(*a.startTime)))
    c.errs.push_back(invalid(p + ".startTime", *a.startTime, rfc3339));
  if (a.endTime && !(end = parseRfc3339(*a.endTime)))
    c.errs.push_back(invalid(p + ".endTime", *a.endTime, rfc3339));
  if (start && end && !(*start < *end))
    c.errs.push_back(invalid(p + ".endTime", *a.endTime,
                             "must be after " + p + ".startTime (" + *a.startTime + ")"));
}

void validateScalingGroup(Context& c, const json& specJson, const json* oldSpecJson) {
  const auto spec = decode<v1::ScalingGroupSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  const auto& s = *spec;
  std::optional<v1::ScalingGroupSpec> old;
  if (oldSpecJson != nullptr) old = decodeQuietly<v1::ScalingGroupSpec>(*oldSpecJson, "spec");

  if (s.minSize > s.maxSize)
    c.errs.push_back(
        invalid("spec.minSize", s.minSize,
                "must be less than or equal to spec.maxSize (" + num(s.maxSize) + ")"));
  // A new desired capacity must lie within the bounds; one that an update of
  // the bounds leaves outside is clamped by the operator instead.
  if (s.desiredCapacity && (!old || old->desiredCapacity != s.desiredCapacity)) {
    if (*s.desiredCapacity < s.minSize)
      c.errs.push_back(
          invalid("spec.desiredCapacity", *s.desiredCapacity,
                  "must be greater than or equal to spec.minSize (" + num(s.minSize) + ")"));
    else if (*s.desiredCapacity > s.maxSize)
      c.errs.push_back(
          invalid("spec.desiredCapacity", *s.desiredCapacity,
                  "must be less than or equal to spec.maxSize (" + num(s.maxSize) + ")"));
  }
  if (s.terminationPolicies) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.terminationPolicies->size(); ++i)
      if (!seen.insert((*s.terminationPolicies)[i]).second)
        c.errs.push_back(duplicate(at("spec.terminationPolicies", i), (*s.terminationPolicies)[i]));
  }
  if (s.maxInstanceLifetimeSeconds && *s.maxInstanceLifetimeSeconds >= 1 &&
      *s.maxInstanceLifetimeSeconds < 86400)
    c.errs.push_back(invalid("spec.maxInstanceLifetimeSeconds", *s.maxInstanceLifetimeSeconds,
                             "must be 0 (no limit) or at least 86400 (one day)"));
  if (s.loadBalancerRefs) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.loadBalancerRefs->size(); ++i)
      if (!seen.insert((*s.loadBalancerRefs)[i].name).second)
        c.errs.push_back(
            duplicate(at("spec.loadBalancerRefs", i) + ".name", (*s.loadBalancerRefs)[i].name));
  }
  if (s.healthCheck && s.healthCheck->type.value_or("Instance") == "LoadBalancer" &&
      (!s.loadBalancerRefs || s.loadBalancerRefs->empty()))
    c.errs.push_back(required("spec.loadBalancerRefs",
                              "must name at least one LoadBalancer when spec.healthCheck.type is "
                              "LoadBalancer"));
  if (s.instanceRefresh) {
    const auto& r = *s.instanceRefresh;
    const std::int64_t minHealthy = r.minHealthyPercentage.value_or(90);
    const std::int64_t maxHealthy = r.maxHealthyPercentage.value_or(100);
    // Unsigned difference: validate() takes any JSON, so the schema's bounds
    // may not have applied and max - min may not fit an int64.
    if (maxHealthy > minHealthy &&
        static_cast<std::uint64_t>(maxHealthy) - static_cast<std::uint64_t>(minHealthy) > 100)
      c.errs.push_back(invalid("spec.instanceRefresh.maxHealthyPercentage", maxHealthy,
                               "must be at most 100 above "
                               "spec.instanceRefresh.minHealthyPercentage (" +
                                   num(minHealthy) + "), so at most " + num(minHealthy + 100)));
    if (r.checkpointPercentages)
      for (size_t i = 1; i < r.checkpointPercentages->size(); ++i) {
        const std::int64_t prev = (*r.checkpointPercentages)[i - 1];
        const std::int64_t cur = (*r.checkpointPercentages)[i];
        if (cur <= prev)
          c.errs.push_back(invalid(at("spec.instanceRefresh.checkpointPercentages", i), cur,
                                   "must be greater than the checkpoint before it (" + num(prev) +
                                       "): checkpoints are strictly ascending"));
      }
    if (r.checkpointDelaySeconds && !r.checkpointPercentages)
      c.errs.push_back(
          forbidden("spec.instanceRefresh.checkpointDelaySeconds",
                    "may only be set with spec.instanceRefresh.checkpointPercentages"));
  }
  if (s.warmPool && s.warmPool->maxGroupPreparedCapacity &&
      *s.warmPool->maxGroupPreparedCapacity < s.minSize)
    c.errs.push_back(
        invalid("spec.warmPool.maxGroupPreparedCapacity", *s.warmPool->maxGroupPreparedCapacity,
                "must be greater than or equal to spec.minSize (" + num(s.minSize) + ")"));
  if (s.scalingPolicies) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.scalingPolicies->size(); ++i) {
      const auto& policy = (*s.scalingPolicies)[i];
      const std::string p = at("spec.scalingPolicies", i);
      if (!seen.insert(policy.name).second) c.errs.push_back(duplicate(p + ".name", policy.name));
      validatePolicy(c, s, p, policy);
    }
  }
  if (s.scheduledActions) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.scheduledActions->size(); ++i) {
      const auto& action = (*s.scheduledActions)[i];
      const std::string p = at("spec.scheduledActions", i);
      if (!seen.insert(action.name).second) c.errs.push_back(duplicate(p + ".name", action.name));
      validateAction(c, p, action);
    }
  }
}

// ---------------------------------------------------------------- LoadBalancer

void validateLoadBalancer(Context& c, const json& specJson) {
  const auto spec = decode<v1::LoadBalancerSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  const std::string type = spec->type.value_or("application");
  const bool application = type == "application";

  std::set<std::string> groups;
  for (size_t i = 0; i < spec->targetGroups.size(); ++i) {
    const auto& g = spec->targetGroups[i];
    const std::string gp = at("spec.targetGroups", i);
    if (!groups.insert(g.name).second) c.errs.push_back(duplicate(gp + ".name", g.name));
    if (g.healthCheck) {
      const auto& hc = *g.healthCheck;
      const std::int64_t interval = hc.intervalSeconds.value_or(30);
      const std::int64_t timeout = hc.timeoutSeconds.value_or(5);
      if (timeout >= interval)
        c.errs.push_back(invalid(gp + ".healthCheck.timeoutSeconds", timeout,
                                 "must be less than " + gp + ".healthCheck.intervalSeconds (" +
                                     num(interval) + (hc.intervalSeconds ? "" : ", the default") +
                                     ")"));
    }
    if (g.targets.instanceSelector)
      checkSelector(c, gp + ".targets.instanceSelector", *g.targets.instanceSelector);
  }
  auto checkGroup = [&](const std::string& path, const std::string& name) {
    if (!groups.count(name))
      c.errs.push_back(notFound(path, name, "must name a target group of spec.targetGroups"));
  };

  std::set<std::int64_t> ports;
  for (size_t i = 0; i < spec->listeners.size(); ++i) {
    const auto& l = spec->listeners[i];
    const std::string lp = at("spec.listeners", i);
    if (!ports.insert(l.port).second) c.errs.push_back(duplicate(lp + ".port", l.port));
    const bool http = l.protocol == "HTTP" || l.protocol == "HTTPS";
    const bool network = l.protocol == "TCP" || l.protocol == "UDP" || l.protocol == "TLS";
    if (application && !http)
      c.errs.push_back(
          invalid(lp + ".protocol", l.protocol, "must be HTTP or HTTPS: spec.type is application"));
    if (!application && !network)
      c.errs.push_back(
          invalid(lp + ".protocol", l.protocol, "must be TCP, UDP or TLS: spec.type is " + type));
    const bool secure = l.protocol == "HTTPS" || l.protocol == "TLS";
    if (secure && !l.certificate)
      c.errs.push_back(required(
          lp + ".certificate",
          "a " + l.protocol + " listener needs a certificate (a kubernetes.io/tls Secret)"));
    if (!secure && l.certificate)
      c.errs.push_back(
          forbidden(lp + ".certificate", "only HTTPS and TLS listeners take a certificate"));
    checkGroup(lp + ".defaultTargetGroup", l.defaultTargetGroup);
    if (!l.rules) continue;
    if (!http && !l.rules->empty())
      c.errs.push_back(forbidden(lp + ".rules", "only HTTP and HTTPS listeners take rules"));
    std::set<std::int64_t> priorities;
    for (size_t r = 0; r < l.rules->size(); ++r) {
      const auto& rule = (*l.rules)[r];
      const std::string rp = at(lp + ".rules", r);
      if (!priorities.insert(rule.priority).second)
        c.errs.push_back(duplicate(rp + ".priority", rule.priority));
      checkGroup(rp + ".targetGroup", rule.targetGroup);
    }
  }
}

// ---------------------------------------------------------------- entry

std::string metadataString(const json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return "";
  const auto v = m->find(key);
  return v != m->end() && v->is_string() ? v->get<std::string>() : "";
}

Errors validateUnchecked(const AdmissionInput& in, const TimeZoneExists& tz) {
  static const std::set<std::string> kinds = {"Instance", "LaunchTemplate", "ScalingGroup",
                                              "LoadBalancer"};
  Context c{in.object, metadataString(in.object, "namespace"), tz, {}};
  if (!kinds.count(in.kind)) {
    c.errs.push_back(
        invalid("kind", in.kind, "must be Instance, LaunchTemplate, ScalingGroup or LoadBalancer"));
    return c.errs;
  }
  if (in.operation == Operation::Delete) {
    if (in.kind == "Instance") validateInstanceDelete(c, in.oldObject);
    return c.errs;
  }
  if (!in.object.is_object()) {
    c.errs.push_back(
        invalid("", in.object, "must be a JSON object: a compute.kubec2.io/v1alpha1 " + in.kind));
    return c.errs;
  }
  const auto specIt = in.object.find("spec");
  if (specIt == in.object.end() || specIt->is_null()) {
    c.errs.push_back(required("spec", ""));
    return c.errs;
  }
  const json* oldSpec = nullptr;
  if (in.operation == Operation::Update && in.oldObject.is_object())
    if (auto it = in.oldObject.find("spec"); it != in.oldObject.end() && !it->is_null())
      oldSpec = &*it;
  // An update that leaves spec alone (metadata, finalizers, labels) is never
  // refused, so objects admitted under older rules can still be finalized.
  if (oldSpec != nullptr && *oldSpec == *specIt) return c.errs;

  if (in.kind == "Instance" && in.operation == Operation::Create) {
    // Its name is the value of the compute.kubec2.io/instance label on its
    // VM and pod, and label values stop at 63 characters.
    const std::string name = metadataString(in.object, "name");
    if (name.size() > 63)
      c.errs.push_back(invalid("metadata.name", name,
                               "must be at most 63 characters: an Instance's name is a label "
                               "value on its VirtualMachine and pod"));
  }
  if (in.kind == "Instance") validateInstance(c, *specIt, oldSpec);
  if (in.kind == "LaunchTemplate") validateLaunchTemplate(c, *specIt, oldSpec);
  if (in.kind == "ScalingGroup") validateScalingGroup(c, *specIt, oldSpec);
  if (in.kind == "LoadBalancer") validateLoadBalancer(c, *specIt);
  checkReferenceNamespaces(c, *specIt, "spec", 0);
  return c.errs;
}

// ---------------------------------------------------------------- defaults

std::string pointerToken(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '~')
      out += "~0";
    else if (ch == '/')
      out += "~1";
    else
      out += ch;
  }
  return out;
}

json addOp(const std::vector<std::string>& tokens, json value) {
  std::string path;
  for (const auto& t : tokens) path += "/" + pointerToken(t);
  return {{"op", "add"}, {"path", path}, {"value", std::move(value)}};
}

bool absent(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null();
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// TargetGroup.protocol: HTTP behind an application load balancer (it ends
// HTTP and TLS itself); behind a network one, UDP when every listener
// forwarding here is UDP, TCP otherwise (TLS is ended at the listener).
std::string targetGroupProtocol(const json& spec, const std::string& group) {
  const json* type = member(spec, "type");
  if (type == nullptr || !type->is_string() || *type != "network") return "HTTP";
  bool anyListener = false;
  bool allUdp = true;
  if (const json* listeners = member(spec, "listeners"); listeners && listeners->is_array())
    for (const auto& l : *listeners) {
      const json* to = member(l, "defaultTargetGroup");
      if (to == nullptr || !to->is_string() || *to != group) continue;
      anyListener = true;
      const json* protocol = member(l, "protocol");
      allUdp = allUdp && protocol != nullptr && protocol->is_string() && *protocol == "UDP";
    }
  return anyListener && allUdp ? "UDP" : "TCP";
}

void loadBalancerDefaults(const json& spec, json& patch) {
  const json* groups = member(spec, "targetGroups");
  if (groups == nullptr || !groups->is_array()) return;
  for (size_t i = 0; i < groups->size(); ++i) {
    const json& g = (*groups)[i];
    if (!g.is_object()) continue;
    const std::vector<std::string> base = {"spec", "targetGroups", std::to_string(i)};
    auto path = [&](std::initializer_list<std::string> more) {
      std::vector<std::string> p = base;
      p.insert(p.end(), more);
      return p;
    };
    std::string protocol;
    if (const json* p = member(g, "protocol"); p != nullptr && p->is_string()) {
      protocol = p->get<std::string>();
    } else if (p == nullptr || p->is_null()) {
      const json* name = member(g, "name");
      protocol =
          targetGroupProtocol(spec, name && name->is_string() ? name->get<std::string>() : "");
      patch.push_back(addOp(path({"protocol"}), protocol));
    }
    // The health check speaks the group's protocol; UDP and TLS groups are checked over TCP.
    std::string check;
    if (protocol == "HTTP" || protocol == "HTTPS" || protocol == "TCP") check = protocol;
    if (protocol == "UDP" || protocol == "TLS") check = "TCP";
    if (check.empty()) continue;
    const json* hc = member(g, "healthCheck");
    if (hc == nullptr || hc->is_null())
      patch.push_back(addOp(path({"healthCheck"}), {{"protocol", check}}));
    else if (hc->is_object() && absent(*hc, "protocol"))
      patch.push_back(addOp(path({"healthCheck", "protocol"}), check));
  }
}

void scalingGroupDefaults(const json& spec, json& patch) {
  if (const json* r = member(spec, "instanceRefresh"); r != nullptr && r->is_object()) {
    const json* checkpoints = member(*r, "checkpointPercentages");
    if (checkpoints != nullptr && checkpoints->is_array() && absent(*r, "checkpointDelaySeconds"))
      patch.push_back(addOp({"spec", "instanceRefresh", "checkpointDelaySeconds"}, 3600));
  }
  const json* policies = member(spec, "scalingPolicies");
  if (policies == nullptr || !policies->is_array()) return;
  for (size_t i = 0; i < policies->size(); ++i) {
    const json& policy = (*policies)[i];
    const std::string index = std::to_string(i);
    if (const json* pr = member(policy, "predictive"); pr != nullptr && pr->is_object()) {
      const json* behavior = member(*pr, "maxCapacityBreachBehavior");
      if (behavior != nullptr && behavior->is_string() && *behavior == "IncreaseMaxCapacity" &&
          absent(*pr, "maxCapacityBuffer"))
        patch.push_back(
            addOp({"spec", "scalingPolicies", index, "predictive", "maxCapacityBuffer"}, 0));
    }
    if (const json* st = member(policy, "stepScaling"); st != nullptr && st->is_object()) {
      const json* alarm = member(*st, "alarm");
      if (alarm != nullptr && alarm->is_object() && !absent(*alarm, "predefinedMetric") &&
          absent(*alarm, "customMetric") && absent(*st, "metricAggregationType"))
        patch.push_back(addOp(
            {"spec", "scalingPolicies", index, "stepScaling", "metricAggregationType"}, "Average"));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- public

std::string FieldError::message() const {
  return field.empty() ? body() : field + ": " + body();
}

std::string FieldError::body() const {
  std::string body;
  switch (type) {
    case Type::Invalid:
      body = "Invalid value: " + formatValue(value);
      break;
    case Type::Duplicate:
      body = "Duplicate value: " + formatValue(value);
      break;
    case Type::NotFound:
      body = "Not found: " + formatValue(value);
      break;
    case Type::Required:
      body = "Required value";
      break;
    case Type::Forbidden:
      body = "Forbidden";
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
  }
  return "FieldValueInvalid";
}

bool timeZoneExistsInZoneinfo(const std::string& name) {
  // A relative path of plain components only: no way out of the directory.
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/') return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '/' && ch != '_' && ch != '-' &&
        ch != '+')
      return false;
  if (name.find("//") != std::string::npos) return false;
  const char* dir = std::getenv("TZDIR");
  const std::filesystem::path file =
      std::filesystem::path(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo") / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && std::string_view(magic, 4) == "TZif";
}

std::vector<FieldError> validate(const AdmissionInput& in, const TimeZoneExists& tz) {
  try {
    return validateUnchecked(in, tz ? tz : TimeZoneExists(timeZoneExistsInZoneinfo));
  } catch (const std::exception& e) {
    return {invalid("", nullptr, std::string("could not be validated: ") + e.what())};
  } catch (...) {
    return {invalid("", nullptr, "could not be validated")};
  }
}

nlohmann::json defaultsPatch(const std::string& kind, const nlohmann::json& object) {
  json patch = json::array();
  try {
    const json* spec = member(object, "spec");
    if (spec == nullptr || !spec->is_object()) return patch;
    if (kind == "LoadBalancer") loadBalancerDefaults(*spec, patch);
    if (kind == "ScalingGroup") scalingGroupDefaults(*spec, patch);
  } catch (...) {
    return json::array();  // defaults are a convenience: never fail the request over them
  }
  return patch;
}

std::string invalidMessage(const std::string& kind, const std::string& name,
                           const std::vector<FieldError>& errors) {
  // As apierrors.NewInvalid with field.ErrorList.ToAggregate(): duplicates
  // dropped, brackets around two or more.
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const auto& e : errors) {
    std::string m = e.message();
    if (seen.insert(m).second) messages.push_back(std::move(m));
  }
  std::string joined;
  for (size_t i = 0; i < messages.size(); ++i) joined += (i ? ", " : "") + messages[i];
  if (messages.size() > 1) joined = "[" + joined + "]";
  return kind + ".compute.kubec2.io " + goQuote(name) + " is invalid: " + joined;
}

}  // namespace kubec2::api
