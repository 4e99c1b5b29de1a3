// The few string helpers every part uses, so none keeps its own copy.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kube {

// `s` without leading and trailing white space (space, tab, CR, LF, FF, VT).
std::string trim(std::string_view s);
bool startsWith(std::string_view s, std::string_view prefix);
// ASCII case-insensitive; `prefix` must be lowercase.
bool startsWithNoCase(std::string_view s, std::string_view prefix);
// "a, b, c" with sep ", ".
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

}  // namespace kube
