#include "runtime/selector.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace kube {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("label selector \"" + std::string(t_) + "\": " + why +
                                " at position " + std::to_string(p_));
  }
  void ws() {
    while (p_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[p_]))) ++p_;
  }
  bool done() {
    ws();
    return p_ >= t_.size();
  }
  bool eat(std::string_view s) {
    ws();
    if (t_.substr(p_, s.size()) == s) {
      p_ += s.size();
      return true;
    }
    return false;
  }
  std::string word() {
    ws();
    size_t s = p_;
    while (p_ < t_.size()) {
      char c = t_[p_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/')
        ++p_;
      else
        break;
    }
    return std::string(t_.substr(s, p_ - s));
  }
  bool keyword(std::string_view k) {
    ws();
    size_t save = p_;
    if (word() == k) return true;
    p_ = save;
    return false;
  }

 private:
  std::string_view t_;
  size_t p_ = 0;
};

void checkKey(const std::string& k, Parser& p) {
  if (k.empty()) p.fail("expected a label key");
  auto slash = k.rfind('/');
  std::string name = slash == std::string::npos ? k : k.substr(slash + 1);
  if (name.empty() || name.size() > 63) p.fail("label key \"" + k + "\" has an invalid name part");
  if (slash != std::string::npos && (slash == 0 || slash > 253))
    p.fail("label key \"" + k + "\" has an invalid prefix");
}

void checkValue(const std::string& v, Parser& p) {
  if (v.size() > 63) p.fail("label value \"" + v + "\" is longer than 63 characters");
  if (v.find('/') != std::string::npos) p.fail("label value \"" + v + "\" contains '/'");
}

const char* opName(LabelSelector::Op op) {
  switch (op) {
    case LabelSelector::Op::In: return "in";
    case LabelSelector::Op::NotIn: return "notin";
    case LabelSelector::Op::Exists: return "";
    case LabelSelector::Op::DoesNotExist: return "!";
  }
  return "";
}

}  // namespace

LabelSelector LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  Parser p(text);
  if (p.done()) return sel;
  for (;;) {
    Requirement r;
    if (p.eat("!")) {
      r.key = p.word();
      checkKey(r.key, p);
      r.op = Op::DoesNotExist;
    } else {
      r.key = p.word();
      checkKey(r.key, p);
      if (p.eat("==") || p.eat("=")) {
        r.op = Op::In;
        r.values.push_back(p.word());
        checkValue(r.values.back(), p);
      } else if (p.eat("!=")) {
        r.op = Op::NotIn;
        r.values.push_back(p.word());
        checkValue(r.values.back(), p);
      } else if (bool notin = p.keyword("notin"); notin || p.keyword("in")) {
        r.op = notin ? Op::NotIn : Op::In;
        if (!p.eat("(")) p.fail("expected '(' after 'in' or 'notin'");
        for (;;) {
          std::string v = p.word();
          checkValue(v, p);
          r.values.push_back(v);
          if (p.eat(")")) break;
          if (!p.eat(",")) p.fail("expected ',' or ')' in value list");
        }
      } else {
        r.op = Op::Exists;
      }
    }
    sel.reqs_.push_back(std::move(r));
    if (p.done()) break;
    if (!p.eat(",")) p.fail("expected ','");
  }
  return sel;
}

LabelSelector LabelSelector::fromJson(const nlohmann::json& j) {
  LabelSelector sel;
  if (!j.is_object()) return sel;
  if (auto m = j.find("matchLabels"); m != j.end() && m->is_object())
    for (const auto& [k, v] : m->items()) sel.reqs_.push_back({k, Op::In, {v.get<std::string>()}});
  if (auto e = j.find("matchExpressions"); e != j.end() && e->is_array()) {
    for (const auto& x : *e) {
      std::string op = x.value("operator", "");
      Requirement r{x.value("key", ""), Op::In, {}};
      if (op == "In") r.op = Op::In;
      else if (op == "NotIn") r.op = Op::NotIn;
      else if (op == "Exists") r.op = Op::Exists;
      else if (op == "DoesNotExist") r.op = Op::DoesNotExist;
      else throw std::invalid_argument("label selector: unknown operator \"" + op + "\"");
      if (auto v = x.find("values"); v != x.end() && v->is_array())
        for (const auto& s : *v) r.values.push_back(s.get<std::string>());
      sel.reqs_.push_back(std::move(r));
    }
  }
  return sel;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : reqs_) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    bool in = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case Op::In: if (!in) return false; break;
      case Op::NotIn: if (in) return false; break;
      case Op::Exists: if (!has) return false; break;
      case Op::DoesNotExist: if (has) return false; break;
    }
  }
  return true;
}

std::string LabelSelector::toString() const {
  std::string out;
  for (const auto& r : reqs_) {
    if (!out.empty()) out += ",";
    if (r.op == Op::Exists) {
      out += r.key;
    } else if (r.op == Op::DoesNotExist) {
      out += "!" + r.key;
    } else {
      out += r.key + " " + opName(r.op) + " (";
      for (size_t i = 0; i < r.values.size(); ++i) out += (i ? "," : "") + r.values[i];
      out += ")";
    }
  }
  return out;
}

}  // namespace kube
