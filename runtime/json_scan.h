// Finds the byte spans of values in JSON text without building a tree.
//
// Why: a list of 10,000 objects is ~20 MB of JSON; parsed into nlohmann trees
// it costs several times that, and a cache needs only each item's metadata
// plus its text. The scanner walks the text once per level, tracking strings
// (and their escapes) and bracket depth; it validates structure, not
// contents, so callers parse the spans they use with nlohmann::json.
// nlohmann's SAX interface reports values but not where they are in the
// input, which is why this is ours.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kube::jsonscan {

// One member of an object: the key as written (without quotes, escapes not
// decoded), the value's text, and the member's extent in the object text
// [begin, end) from the key's opening quote to the value's last byte.
struct Member {
  std::string_view key;
  std::string_view value;
  size_t begin = 0;
  size_t end = 0;
};

// Calls `fn` for each member of the object `text` (leading and trailing
// whitespace allowed) until it returns false. Returns false when `text` is
// not a well-formed object at this level (nested values are checked for
// balanced brackets and closed strings only).
bool forEachMember(std::string_view text, const std::function<bool(const Member&)>& fn);

// The same for the elements of an array.
bool forEachElement(std::string_view text, const std::function<bool(std::string_view)>& fn);

// The value of member `key` of object `text`, if present.
std::optional<std::string_view> member(std::string_view text, std::string_view key);

// `text` (an object) with member `key` removed, commas kept right. Returns
// nullopt when there is no such member or the text is malformed.
std::optional<std::string> withoutMember(std::string_view text, std::string_view key);

// `text` (an object) with member `outer`.`inner` removed, commas kept right.
// Returns nullopt when there is no such member or the text is malformed.
std::optional<std::string> withoutNestedMember(std::string_view text, std::string_view outer,
                                               std::string_view inner);

}  // namespace kube::jsonscan
