#include "api/validation/promql.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/validation/field_error.h"

namespace kubec2::api::promql {
namespace {

using validation::goQuote;

// Recursive descent over Prometheus' grammar (promql/parser/generated_parser.y),
// tokens first as its lexer (lex.go) makes them.
class Checker {
 public:
  // The problem, or nullopt when the query parses.
  static std::optional<std::string> check(std::string_view query) {
    Checker p(query);
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

  explicit Checker(std::string_view q) : q_(q) {}

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
      fail("expected " + goQuote(std::string(text)) + " but found " + describe(t), t.pos);
    }
    ++pos_;
  }

  struct DepthGuard {
    explicit DepthGuard(Checker& p) : p_(p) {
      if (++p_.depth_ > 200) fail("nested too deeply", p_.peek().pos);
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Checker& p_;
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
      fail("expected a duration such as 5m but found " + describe(t), t.pos);
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
    commaList("}", [&] {
      if (peek().kind != Kind::Ident && peek().kind != Kind::String) unexpected();
      ++pos_;
      const Token& op = peek();
      if (op.kind != Kind::Op ||
          (op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~"))
        fail("expected a label matcher (=, !=, =~ or !~) but found " + describe(op), op.pos);
      ++pos_;
      if (peek().kind != Kind::String)
        fail("expected a quoted label value but found " + describe(peek()), peek().pos);
      ++pos_;
      ++count;
    });
    return count;
  }

  // (label, ...) after by, without, on, ignoring, group_left and group_right.
  void labelList() {
    expect(Kind::Punct, "(");
    commaList(")", [&] {
      if (peek().kind != Kind::Ident) unexpected();
      ++pos_;
    });
  }

  // Items up to and including `close`, separated by commas; a comma may
  // follow the last one, as Prometheus allows in matchers and label lists.
  template <typename Item>
  void commaList(std::string_view close, Item item) {
    while (!is(Kind::Punct, close)) {
      item();
      if (is(Kind::Punct, ",")) {
        ++pos_;
        continue;
      }
      if (!is(Kind::Punct, close)) unexpected();
    }
    ++pos_;
  }

  // A token in a message: quoted, or "the end of the query".
  static std::string describe(const Token& t) {
    return t.kind == Kind::End ? std::string("the end of the query") : goQuote(t.text);
  }

  std::string_view q_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::optional<std::string> syntaxError(std::string_view query) {
  return Checker::check(query);
}

}  // namespace kubec2::api::promql
