// A syntax check of PromQL (Prometheus 2.x), so that a typo in a scaling
// policy's query is refused by kubectl apply instead of surfacing later in
// the policy's status. The webhook uses it for customMetric queries; the
// scaling engine can use it before sending a query.
//
// What it accepts, as Prometheus' parser does: selectors with matchers
// (=, !=, =~, !~), ranges [5m], subqueries [1h:1m] and [1h:], offset (also
// negative) and @ (a time, start() or end()), function calls, aggregations
// with by/without before or after their arguments and a parameter (topk,
// quantile, ...), binary operators with their precedence, bool and
// on/ignoring/group_left/group_right, numbers (decimal, float, hex, Inf,
// NaN), durations (250ms, 1h30m), the three string quotes and # comments.
//
// What it does not do: type-check (a range vector where an instant one is
// needed passes) or know the function names. Prometheus reports those when
// the query runs, and the policy's ScalingActive condition shows it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kubec2::api::promql {

// The first syntax error of `query` with its 1-based character position,
// such as `expected ")" but found the end of the query at position 15`,
// or "the query is empty" (blank, or comments only); nullopt when it parses.
// Nesting deeper than 200 levels is an error ("nested too deeply"), so a
// hostile query cannot overflow the stack. Throws nothing but std::bad_alloc.
std::optional<std::string> syntaxError(std::string_view query);

}  // namespace kubec2::api::promql
