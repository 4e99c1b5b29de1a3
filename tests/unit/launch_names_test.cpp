#include "controllers/scalinggroup/launch_names.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kubec2::controllers {
namespace {

using namespace std::chrono_literals;

// Suffixes "aaaa0", "aaaa1", ... so names are predictable.
LaunchNames sequential() {
  return LaunchNames([n = 0]() mutable { return "aaaa" + std::to_string(n++); });
}
const auto nothingExists = [](const std::string&) { return false; };
const kube::Clock::time_point t0{};

TEST(LaunchNames, FreshNamesHaveGenerateNamesShape) {
  LaunchNames names;
  const auto got = names.take("shop/web", "web", 50, nothingExists, t0);
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 50u) << "a name twice";
  for (const auto& n : got) {
    ASSERT_EQ(n.size(), 9u) << n;
    EXPECT_EQ(n.substr(0, 4), "web-");
    EXPECT_EQ(n.substr(4).find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos) << n;
  }
  // A long group name is cut as generateName is, to a 63-character name.
  const std::string longName(70, 'g');
  EXPECT_EQ(names.take("shop/" + longName, longName, 1, nothingExists, t0)[0].size(), 63u);
  EXPECT_EQ(LaunchNames::prefixOf(longName), std::string(58, 'g'));  // as the API server cuts it
  EXPECT_EQ(LaunchNames::prefixOf("web"), "web-");
}

TEST(LaunchNames, ACreateThatDidNotCompleteIsSentAgainUnderItsName) {
  LaunchNames names = sequential();
  const auto first = names.take("shop/web", "web", 3, nothingExists, t0);
  EXPECT_EQ(first, (std::vector<std::string>{"web-aaaa0", "web-aaaa1", "web-aaaa2"}));
  // The second and third timed out: the next launch offers them first.
  names.unconfirmed("shop/web", {"web-aaaa1", "web-aaaa2"}, t0);
  EXPECT_EQ(names.pending("shop/web"), 2u);
  EXPECT_EQ(names.take("shop/web", "web", 3, nothingExists, t0 + 2s),
            (std::vector<std::string>{"web-aaaa1", "web-aaaa2", "web-aaaa3"}));
  EXPECT_EQ(names.pending("shop/web"), 0u);
  // Other groups are not affected.
  EXPECT_EQ(names.take("shop/api", "api", 1, nothingExists, t0)[0], "api-aaaa4");
}

TEST(LaunchNames, ANameTheInformerShowsOrTooOldIsNotOfferedAgain) {
  LaunchNames names = sequential();
  names.take("shop/web", "web", 3, nothingExists, t0);
  names.unconfirmed("shop/web", {"web-aaaa0", "web-aaaa1"}, t0);
  // web-aaaa0 was committed and has arrived in the informer.
  const auto seen = [](const std::string& n) { return n == "web-aaaa0"; };
  EXPECT_EQ(names.take("shop/web", "web", 1, seen, t0 + 1s),
            (std::vector<std::string>{"web-aaaa1"}));
  names.unconfirmed("shop/web", {"web-aaaa1"}, t0 + 1s);
  // Past the TTL (5 minutes) the create is long answered or abandoned.
  EXPECT_EQ(names.take("shop/web", "web", 1, nothingExists, t0 + 1s + 6min),
            (std::vector<std::string>{"web-aaaa3"}));
}

TEST(LaunchNames, NamesNotNeededNowWaitForTheNextLaunch) {
  LaunchNames names = sequential();
  names.take("shop/web", "web", 2, nothingExists, t0);
  names.unconfirmed("shop/web", {"web-aaaa0", "web-aaaa1"}, t0);
  EXPECT_EQ(names.take("shop/web", "web", 1, nothingExists, t0),
            (std::vector<std::string>{"web-aaaa0"}));
  EXPECT_EQ(names.pending("shop/web"), 1u);
  names.forget("shop/web");  // the group deleted
  EXPECT_EQ(names.pending("shop/web"), 0u);
}

}  // namespace
}  // namespace kubec2::controllers
