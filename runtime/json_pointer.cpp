#include "runtime/json_pointer.h"

namespace kube {

using nlohmann::json;

namespace {

bool isIndex(const std::string& t) {
  return !t.empty() && t.size() < 10 && t.find_first_not_of("0123456789") == std::string::npos;
}

// The child a token names, or nullptr.
template <typename J>
J* child(J* node, const std::string& t) {
  if (node->is_object()) {
    const auto it = node->find(t);
    return it == node->end() ? nullptr : &*it;
  }
  if (node->is_array() && isIndex(t)) {
    const auto i = static_cast<std::size_t>(std::stoul(t));
    return i < node->size() ? &(*node)[i] : nullptr;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> pointerTokens(const std::string& pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  std::string cur;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      out.push_back(cur);
      cur.clear();
    } else if (pointer[i] == '~' && i + 1 < pointer.size() &&
               (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      cur += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      cur += pointer[i];
    }
  }
  return out;
}

std::string pointerOf(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) {
    out += '/';
    for (char c : t) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out += c;
    }
  }
  return out;
}

const json* valueAt(const json& j, const std::string& pointer) {
  const json* node = &j;
  for (const auto& t : pointerTokens(pointer))
    if ((node = child(node, t)) == nullptr) return nullptr;
  return node;
}

void setValueAt(json& j, const std::string& pointer, const json& value) {
  json* node = &j;
  for (const auto& t : pointerTokens(pointer)) {
    if (node->is_array()) {
      if ((node = child(node, t)) == nullptr) return;
      continue;
    }
    if (!node->is_object()) *node = json::object();
    node = &(*node)[t];
  }
  *node = value;
}

void eraseValueAt(json& j, const std::string& pointer) {
  auto tokens = pointerTokens(pointer);
  if (tokens.empty()) return;
  const std::string last = tokens.back();
  tokens.pop_back();
  json* node = &j;
  for (const auto& t : tokens)
    if ((node = child(node, t)) == nullptr) return;
  if (node->is_object()) node->erase(last);
}

void leafPointers(const json& j, const std::string& prefix, std::set<std::string>& out) {
  if (!j.is_object() || j.empty()) {
    out.insert(prefix);
    return;
  }
  for (const auto& [k, v] : j.items()) leafPointers(v, prefix + pointerOf({k}), out);
}

}  // namespace kube
