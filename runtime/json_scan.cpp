#include "runtime/json_scan.h"

#include <cstring>
#include <vector>

namespace kube::jsonscan {
namespace {

constexpr size_t npos = std::string_view::npos;

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t skipSpace(std::string_view s, size_t i) {
  while (i < s.size() && isSpace(s[i])) ++i;
  return i;
}

// `i` at an opening quote: the index just past the closing quote, or npos.
// memchr finds the candidate quotes (long strings are the bulk of most
// objects); a quote preceded by an odd run of backslashes is escaped.
size_t stringEnd(std::string_view s, size_t i) {
  const char* const begin = s.data();
  const char* const end = begin + s.size();
  const char* p = begin + i + 1;
  while (p < end) {
    const void* q = std::memchr(p, '"', static_cast<size_t>(end - p));
    if (q == nullptr) return npos;
    const char* quote = static_cast<const char*>(q);
    size_t backslashes = 0;
    for (const char* b = quote - 1; b > begin + i && *b == '\\'; --b) ++backslashes;
    if (backslashes % 2 == 0) return static_cast<size_t>(quote - begin) + 1;
    p = quote + 1;
  }
  return npos;
}

// `i` at the first byte of a value: the index just past it, or npos.
size_t valueEnd(std::string_view s, size_t i) {
  if (i >= s.size()) return npos;
  const char c = s[i];
  if (c == '"') return stringEnd(s, i);
  if (c == '{' || c == '[') {
    // Brackets of both kinds share one depth counter; a mismatch such as
    // "{]" is caught when the caller (or nlohmann) parses the span.
    int depth = 0;
    for (; i < s.size(); ++i) {
      const char d = s[i];
      if (d == '"') {
        i = stringEnd(s, i);
        if (i == npos) return npos;
        --i;
      } else if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return npos;
  }
  // A number, true, false or null: up to the next delimiter.
  size_t j = i;
  while (j < s.size() && !isSpace(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']') ++j;
  return j == i ? npos : j;
}

// Shared walk over "{ member, ... }" or "[ value, ... ]".
template <typename OnItem>
bool walk(std::string_view s, char open, char close, OnItem&& onItem) {
  size_t i = skipSpace(s, 0);
  if (i >= s.size() || s[i] != open) return false;
  i = skipSpace(s, i + 1);
  if (i < s.size() && s[i] == close) return skipSpace(s, i + 1) == s.size();
  for (;;) {
    size_t next = onItem(i);  // npos: malformed; npos-1: stop early
    if (next == npos) return false;
    if (next == npos - 1) return true;
    i = skipSpace(s, next);
    if (i >= s.size()) return false;
    if (s[i] == close) return skipSpace(s, i + 1) == s.size();
    if (s[i] != ',') return false;
    i = skipSpace(s, i + 1);
  }
}

}  // namespace

bool forEachMember(std::string_view s, const std::function<bool(const Member&)>& fn) {
  return walk(s, '{', '}', [&](size_t i) -> size_t {
    if (i >= s.size() || s[i] != '"') return npos;
    const size_t keyEnd = stringEnd(s, i);
    if (keyEnd == npos) return npos;
    size_t j = skipSpace(s, keyEnd);
    if (j >= s.size() || s[j] != ':') return npos;
    j = skipSpace(s, j + 1);
    const size_t end = valueEnd(s, j);
    if (end == npos) return npos;
    Member m{s.substr(i + 1, keyEnd - i - 2), s.substr(j, end - j), i, end};
    return fn(m) ? end : npos - 1;
  });
}

bool forEachElement(std::string_view s, const std::function<bool(std::string_view)>& fn) {
  return walk(s, '[', ']', [&](size_t i) -> size_t {
    const size_t end = valueEnd(s, i);
    if (end == npos) return npos;
    return fn(s.substr(i, end - i)) ? end : npos - 1;
  });
}

std::optional<std::string_view> member(std::string_view text, std::string_view key) {
  std::optional<std::string_view> out;
  forEachMember(text, [&](const Member& m) {
    if (m.key != key) return true;
    out = m.value;
    return false;
  });
  return out;
}

std::optional<std::string> withoutMember(std::string_view text, std::string_view key) {
  std::vector<Member> members;
  if (!forEachMember(text, [&](const Member& m) {
        members.push_back(m);
        return true;
      }))
    return std::nullopt;
  size_t k = 0;
  while (k < members.size() && members[k].key != key) ++k;
  if (k == members.size()) return std::nullopt;
  // Cut ", key: value" after a previous member, or "key: value, " when first.
  size_t cutBegin = members[k].begin;
  size_t cutEnd = members[k].end;
  if (k > 0) {
    cutBegin = members[k - 1].end;
  } else if (members.size() > 1) {
    cutEnd = members[1].begin;
  }
  std::string out;
  out.reserve(text.size() - (cutEnd - cutBegin));
  out.append(text.substr(0, cutBegin));
  out.append(text.substr(cutEnd));
  return out;
}

std::optional<std::string> withoutNestedMember(std::string_view text, std::string_view outer,
                                               std::string_view inner) {
  auto outerValue = member(text, outer);
  if (!outerValue) return std::nullopt;
  auto cut = withoutMember(*outerValue, inner);
  if (!cut) return std::nullopt;
  const size_t base = static_cast<size_t>(outerValue->data() - text.data());
  std::string out;
  out.reserve(text.size() - outerValue->size() + cut->size());
  out.append(text.substr(0, base));
  out.append(*cut);
  out.append(text.substr(base + outerValue->size()));
  return out;
}

}  // namespace kube::jsonscan
