// The PromQL syntax check (api/validation/promql.h) on its own: queries
// Prometheus parses pass, and each broken one names its problem and where.
// The ScalingGroup tests check that its policies' queries go through it.
#include "api/validation/promql.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kubec2::api::promql {
namespace {

using testing::HasSubstr;

struct Bad {
  const char* name;
  std::string query;
  const char* words;  // a distinctive part of the problem
};

class PromQLRefused : public testing::TestWithParam<Bad> {};

TEST_P(PromQLRefused, NamesTheProblem) {
  const auto problem = syntaxError(GetParam().query);
  ASSERT_TRUE(problem.has_value()) << GetParam().query;
  EXPECT_THAT(*problem, HasSubstr(GetParam().words));
}

INSTANTIATE_TEST_SUITE_P(
    PromQL, PromQLRefused,
    testing::Values(
        Bad{"Blank", " \t", "the query is empty"}, Bad{"CommentOnly", "# up", "the query is empty"},
        Bad{"UnclosedParenthesis", "sum(rate(x[5m])",
            "expected \")\" but found the end of the query at position 16"},
        Bad{"UnquotedLabelValue", "up{job=web}", "expected a quoted label value but found \"web\""},
        Bad{"RangeWithoutUnit", "rate(x[5])", "expected a duration such as 5m"},
        Bad{"DanglingOperator", "a + ", "unexpected end of query"},
        Bad{"UnterminatedString", "up{job=\"web}", "unterminated string"},
        Bad{"TwoSelectorsInARow", "x{a=\"b\"}{c=\"d\"}", "unexpected \"{\" at position 9"},
        Bad{"GroupedTwice", "sum(x) by (a) by (b)", "unexpected \"by\""},
        Bad{"DurationAlone", "5m", "unexpected \"5m\""},
        Bad{"SelectorWithoutMatchers", "{}", "a selector needs a metric name or a matcher"},
        Bad{"UnknownCharacter", "up $ 1", "unexpected character \"$\" at position 4"},
        // Recursion is bounded: a hostile query is refused, not a stack overflow.
        Bad{"NestedTooDeeply", std::string(100000, '(') + "1" + std::string(100000, ')'),
            "nested too deeply"}),
    [](const testing::TestParamInfo<Bad>& p) { return std::string(p.param.name); });

class PromQLParses : public testing::TestWithParam<const char*> {};

TEST_P(PromQLParses, NoProblem) {
  const auto problem = syntaxError(GetParam());
  EXPECT_FALSE(problem.has_value()) << GetParam() << ": " << problem.value_or("");
}

INSTANTIATE_TEST_SUITE_P(
    PromQL, PromQLParses,
    testing::Values("sum(rate(http_requests_total{job=\"web\"}[5m])) by (instance)",
                    "a / on(instance) group_left(zone) b > bool 0.5",
                    "avg_over_time(kubevirt_vmi_cpu_usage_seconds_total[1m:10s] offset 5m)",
                    "max_over_time(rate(x[5m])[30m:])",
                    "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
                    "job:http_requests:rate5m{code=~\"5..\", path!=\"/healthz\"} offset 1h30m",
                    "rate(x[5m] @ end()) + x offset -5m",
                    "topk by (zone) (3, sum by (zone, instance) (rate(x[5m])))",
                    "x{a=\"b\", c='d', e=~`f.*`,} # per instance\n"
                    " + label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
                    "0x1F + 1e3 - .5 * 2 ^ 3 ^ 2 + Inf", "avg(cpu)", "up"));

}  // namespace
}  // namespace kubec2::api::promql
