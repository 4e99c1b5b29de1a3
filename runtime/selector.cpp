#include "runtime/selector.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace kube {
namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The name part of a key, and a value: [A-Za-z0-9] at both ends, [-_.A-Za-z0-9]
// between, at most 63 characters.
std::string nameError(std::string_view s) {
  if (s.size() > 63) return "must be no more than 63 characters";
  if (!isAlnum(s.front()) || !isAlnum(s.back()))
    return "must begin and end with an alphanumeric character";
  for (char c : s)
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.')
      return std::string("must contain only alphanumerics, '-', '_' or '.' (found '") + c + "')";
  return "";
}

// A DNS-1123 subdomain: dot-separated lowercase labels of [a-z0-9-], each
// starting and ending with [a-z0-9], at most 253 characters in all.
std::string subdomainError(std::string_view s) {
  if (s.size() > 253) return "must be no more than 253 characters";
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (part.empty() || !lowerAlnum(part.front()) || !lowerAlnum(part.back()))
      return "must be a DNS subdomain: lowercase alphanumerics, '-' and '.', each dot-separated "
             "part starting and ending with an alphanumeric";
    for (char c : part)
      if (!lowerAlnum(c) && c != '-')
        return std::string(
                   "must be a DNS subdomain: lowercase alphanumerics, '-' and '.' (found '") +
               c + "')";
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

// Characters that end an identifier in the string form, as in Kubernetes'
// lexer; anything else (including characters invalid in labels) is gathered
// into the identifier so the error can quote it whole.
bool isSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

enum class Tok { Ident, Not, Eq, DoubleEq, NotEq, OpenPar, ClosePar, Comma, Gt, Lt, End };

struct Token {
  Tok type;
  std::string_view text;
  size_t pos;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { lex(); }

  std::vector<LabelSelector::Requirement> parse() {
    std::vector<LabelSelector::Requirement> out;
    if (peek().type == Tok::End) return out;
    for (;;) {
      out.push_back(requirement());
      const Token& t = peek();
      if (t.type == Tok::End) return out;
      if (t.type != Tok::Comma) fail("expected ',' or end of selector", t.pos);
      next();
      if (peek().type == Tok::End) fail("expected a requirement after ','", peek().pos);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why, size_t pos) const {
    throw std::invalid_argument("label selector \"" + std::string(text_) + "\": " + why +
                                " at position " + std::to_string(pos));
  }

  void lex() {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (isSpace(c)) {
        ++i;
        continue;
      }
      auto two = [&](char second) { return i + 1 < text_.size() && text_[i + 1] == second; };
      size_t len = 1;
      Tok type;
      switch (c) {
        case '=':
          type = two('=') ? Tok::DoubleEq : Tok::Eq;
          break;
        case '!':
          type = two('=') ? Tok::NotEq : Tok::Not;
          break;
        case '(':
          type = Tok::OpenPar;
          break;
        case ')':
          type = Tok::ClosePar;
          break;
        case ',':
          type = Tok::Comma;
          break;
        case '>':
          type = Tok::Gt;
          break;
        case '<':
          type = Tok::Lt;
          break;
        default:
          type = Tok::Ident;
          while (i + len < text_.size() && !isSpace(text_[i + len]) && !isSpecial(text_[i + len]))
            ++len;
      }
      if (type == Tok::DoubleEq || type == Tok::NotEq) len = 2;
      tokens_.push_back({type, text_.substr(i, len), i});
      i += len;
    }
    tokens_.push_back({Tok::End, {}, text_.size()});
  }

  const Token& peek() const { return tokens_[at_]; }
  const Token& next() { return tokens_[at_ < tokens_.size() - 1 ? at_++ : at_]; }

  std::string key(const Token& t) {
    std::string k(t.text);
    if (std::string why = labelKeyError(k); !why.empty())
      fail("invalid label key \"" + k + "\": " + why, t.pos);
    return k;
  }
  std::string value(const Token& t) {
    std::string v(t.text);
    if (std::string why = labelValueError(v); !why.empty())
      fail("invalid label value \"" + v + "\": " + why, t.pos);
    return v;
  }

  LabelSelector::Requirement requirement() {
    using Op = LabelSelector::Op;
    LabelSelector::Requirement r{"", Op::Exists, {}};
    if (peek().type == Tok::Not) {
      next();
      if (peek().type != Tok::Ident) fail("expected a label key after '!'", peek().pos);
      r.key = key(next());
      r.op = Op::DoesNotExist;
      return r;
    }
    if (peek().type != Tok::Ident) fail("expected a label key or '!'", peek().pos);
    r.key = key(next());
    const Token& op = peek();
    switch (op.type) {
      case Tok::End:
      case Tok::Comma:
        return r;  // bare key: Exists
      case Tok::Eq:
      case Tok::DoubleEq:
      case Tok::NotEq: {
        next();
        r.op = op.type == Tok::NotEq ? Op::NotIn : Op::In;
        // a= (nothing before ',' or the end) asks for the empty value.
        if (peek().type == Tok::End || peek().type == Tok::Comma) {
          r.values.emplace_back();
        } else if (peek().type == Tok::Ident) {
          r.values.push_back(value(next()));
        } else {
          fail("expected a value after '" + std::string(op.text) + "'", peek().pos);
        }
        return r;
      }
      case Tok::Gt:
      case Tok::Lt:
        fail("operator '" + std::string(op.text) + "' is not supported in label selectors", op.pos);
      case Tok::Ident:
        if (op.text == "in" || op.text == "notin") {
          next();
          r.op = op.text == "in" ? Op::In : Op::NotIn;
          r.values = valueList(op.text);
          return r;
        }
        break;
      default:
        break;
    }
    fail(
        "expected '=', '==', '!=', 'in', 'notin', ',' or end of selector after key '" + r.key + "'",
        op.pos);
  }

  // After 'in' or 'notin': ( value, value, ... ). As in Kubernetes, an
  // element left empty, as in (a,), stands for the empty value.
  std::vector<std::string> valueList(std::string_view opText) {
    if (peek().type != Tok::OpenPar)
      fail("expected '(' after '" + std::string(opText) + "'", peek().pos);
    next();
    if (peek().type == Tok::ClosePar)
      fail("the value list of '" + std::string(opText) + "' must not be empty", peek().pos);
    std::vector<std::string> values;
    for (;;) {
      if (peek().type == Tok::Ident) {
        values.push_back(value(next()));
      } else if (peek().type == Tok::Comma || peek().type == Tok::ClosePar) {
        values.emplace_back();
      } else {
        fail("expected a value, ',' or ')'", peek().pos);
      }
      const Token& t = next();
      if (t.type == Tok::ClosePar) return values;
      if (t.type != Tok::Comma) fail("expected ',' or ')' in the value list", t.pos);
    }
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
};

void normalise(LabelSelector::Requirement& r) {
  std::sort(r.values.begin(), r.values.end());
  r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
}

[[noreturn]] void jsonFail(const std::string& where, const std::string& why) {
  throw std::invalid_argument("label selector: " + where + ": " + why);
}

std::string jsonString(const nlohmann::json& j, const std::string& where) {
  if (!j.is_string()) jsonFail(where, std::string("expected a string, got ") + j.type_name());
  return j.get<std::string>();
}

}  // namespace

std::string labelKeyError(std::string_view key) {
  if (key.empty()) return "must not be empty";
  size_t slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) return "must contain at most one '/'";
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) return "the prefix before '/' must not be empty";
    if (std::string why = subdomainError(prefix); !why.empty()) return "prefix " + why;
  }
  if (name.empty()) return "the name part must not be empty";
  if (std::string why = nameError(name); !why.empty()) return "name part " + why;
  return "";
}

std::string labelValueError(std::string_view value) {
  if (value.empty()) return "";  // the empty value is allowed
  return nameError(value);
}

void LabelSelector::add(Requirement r) {
  normalise(r);
  // Sorted by key as Kubernetes does; upper_bound keeps the given order among
  // requirements on the same key.
  auto at = std::upper_bound(reqs_.begin(), reqs_.end(), r.key,
                             [](const std::string& k, const Requirement& e) { return k < e.key; });
  reqs_.insert(at, std::move(r));
}

LabelSelector LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  for (auto& r : Parser(text).parse()) sel.add(std::move(r));
  return sel;
}

LabelSelector LabelSelector::fromJson(const nlohmann::json& j) {
  LabelSelector sel;
  if (j.is_null()) return sel;
  if (!j.is_object())
    throw std::invalid_argument(std::string("label selector: expected an object, got ") +
                                j.type_name());
  if (auto m = j.find("matchLabels"); m != j.end() && !m->is_null()) {
    if (!m->is_object())
      jsonFail("matchLabels", std::string("expected an object, got ") + m->type_name());
    for (const auto& [k, v] : m->items()) {
      const std::string where = "matchLabels[\"" + k + "\"]";
      std::string value = jsonString(v, where);
      if (std::string why = labelKeyError(k); !why.empty()) jsonFail(where, "invalid key: " + why);
      if (std::string why = labelValueError(value); !why.empty())
        jsonFail(where, "invalid value \"" + value + "\": " + why);
      sel.add({k, Op::In, {value}});
    }
  }
  if (auto e = j.find("matchExpressions"); e != j.end() && !e->is_null()) {
    if (!e->is_array())
      jsonFail("matchExpressions", std::string("expected an array, got ") + e->type_name());
    for (size_t i = 0; i < e->size(); ++i) {
      const nlohmann::json& x = (*e)[i];
      const std::string where = "matchExpressions[" + std::to_string(i) + "]";
      if (!x.is_object()) jsonFail(where, std::string("expected an object, got ") + x.type_name());
      if (!x.contains("key")) jsonFail(where, "key is missing");
      if (!x.contains("operator")) jsonFail(where, "operator is missing");
      Requirement r{jsonString(x["key"], where + ".key"), Op::In, {}};
      if (std::string why = labelKeyError(r.key); !why.empty())
        jsonFail(where, "invalid key \"" + r.key + "\": " + why);
      const std::string op = jsonString(x["operator"], where + ".operator");
      if (op == "In") {
        r.op = Op::In;
      } else if (op == "NotIn") {
        r.op = Op::NotIn;
      } else if (op == "Exists") {
        r.op = Op::Exists;
      } else if (op == "DoesNotExist") {
        r.op = Op::DoesNotExist;
      } else {
        jsonFail(where, "unknown operator \"" + op +
                            "\" (label selectors know In, NotIn, Exists, DoesNotExist)");
      }
      if (auto v = x.find("values"); v != x.end() && !v->is_null()) {
        if (!v->is_array())
          jsonFail(where + ".values", std::string("expected an array, got ") + v->type_name());
        for (size_t k = 0; k < v->size(); ++k) {
          std::string value = jsonString((*v)[k], where + ".values[" + std::to_string(k) + "]");
          if (std::string why = labelValueError(value); !why.empty())
            jsonFail(where, "invalid value \"" + value + "\": " + why);
          r.values.push_back(std::move(value));
        }
      }
      // The API server's own validation rules for these operators.
      bool setOp = r.op == Op::In || r.op == Op::NotIn;
      if (setOp && r.values.empty()) jsonFail(where, "values must not be empty for " + op);
      if (!setOp && !r.values.empty()) jsonFail(where, "values must be empty for " + op);
      sel.add(std::move(r));
    }
  }
  return sel;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : reqs_) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in = has && std::binary_search(r.values.begin(), r.values.end(), it->second);
    switch (r.op) {
      case Op::In:
        if (!in) return false;
        break;
      case Op::NotIn:  // also matches when the label is absent
        if (in) return false;
        break;
      case Op::Exists:
        if (!has) return false;
        break;
      case Op::DoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

std::string LabelSelector::toString() const {
  std::string out;
  for (const auto& r : reqs_) {
    if (!out.empty()) out += ",";
    switch (r.op) {
      case Op::Exists:
        out += r.key;
        continue;
      case Op::DoesNotExist:
        out += "!" + r.key;
        continue;
      case Op::In:
      case Op::NotIn:
        break;
    }
    const bool in = r.op == Op::In;
    if (r.values.size() == 1) {
      out += r.key + (in ? "=" : "!=") + r.values.front();
      continue;
    }
    out += r.key + (in ? " in (" : " notin (");
    for (size_t i = 0; i < r.values.size(); ++i) out += (i ? "," : "") + r.values[i];
    out += ")";
  }
  return out;
}

}  // namespace kube
