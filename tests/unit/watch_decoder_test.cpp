#include "runtime/watch_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kube {
namespace {

std::string frame(const std::string& type, const std::string& name, const std::string& rv) {
  return R"({"type":")" + type + R"(","object":{"kind":"ConfigMap","metadata":{"name":")" + name +
         R"(","resourceVersion":")" + rv + R"("}}})" + "\n";
}

struct Collector {
  std::vector<WatchEvent> events;
  std::function<bool(WatchEvent&&)> fn = [this](WatchEvent&& e) {
    events.push_back(std::move(e));
    return true;
  };
};

TEST(WatchDecoder, SeveralFramesInOneChunk) {
  WatchDecoder d;
  Collector c;
  EXPECT_TRUE(d.feed(
      frame("ADDED", "a", "1") + frame("MODIFIED", "a", "2") + frame("DELETED", "a", "3"), c.fn));
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[0].type, "ADDED");
  EXPECT_EQ(c.events[1].type, "MODIFIED");
  EXPECT_EQ(c.events[2].type, "DELETED");
  EXPECT_EQ(c.events[2].object["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(WatchDecoder, FrameSplitAtEveryByte) {
  const std::string all = frame("ADDED", "a", "1") + frame("BOOKMARK", "", "7");
  WatchDecoder d;
  Collector c;
  for (char ch : all) d.feed(std::string_view(&ch, 1), c.fn);
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].object["metadata"]["name"], "a");
  EXPECT_EQ(c.events[1].type, "BOOKMARK");
  EXPECT_EQ(c.events[1].object["metadata"]["resourceVersion"], "7");
}

TEST(WatchDecoder, SplitAcrossTwoChunksAtEveryPosition) {
  const std::string all = frame("ADDED", "x", "10") + frame("MODIFIED", "x", "11");
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    WatchDecoder d;
    Collector c;
    d.feed(std::string_view(all).substr(0, cut), c.fn);
    d.feed(std::string_view(all).substr(cut), c.fn);
    ASSERT_EQ(c.events.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(c.events[1].object["metadata"]["resourceVersion"], "11");
  }
}

TEST(WatchDecoder, ErrorFrameIsDelivered) {
  WatchDecoder d;
  Collector c;
  d.feed(R"({"type":"ERROR","object":{"kind":"Status","reason":"Expired","code":410}})"
         "\n",
         c.fn);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].type, "ERROR");
  EXPECT_EQ(c.events[0].object["code"], 410);
}

TEST(WatchDecoder, GarbageFrameNamesTheCause) {
  WatchDecoder d;
  Collector c;
  try {
    d.feed("this is not json\n", c.fn);
    FAIL() << "garbage accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.reason(), "BadWatchFrame");
    EXPECT_NE(std::string(e.what()).find("not JSON"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("this is not json"), std::string::npos);
  }
}

TEST(WatchDecoder, FrameWithoutTypeOrObjectIsRejected) {
  Collector c;
  WatchDecoder d1;
  EXPECT_THROW(d1.feed(R"({"object":{}})"
                       "\n",
                       c.fn),
               ApiError);
  WatchDecoder d2;
  EXPECT_THROW(d2.feed(R"({"type":"ADDED","object":"x"})"
                       "\n",
                       c.fn),
               ApiError);
  WatchDecoder d3;
  EXPECT_THROW(d3.feed(R"({"type":"EXPLODED","object":{}})"
                       "\n",
                       c.fn),
               ApiError);
  WatchDecoder d4;
  EXPECT_THROW(d4.feed("[1,2]\n", c.fn), ApiError);
  EXPECT_TRUE(c.events.empty());
}

TEST(WatchDecoder, TruncatedStreamIsAnErrorAtFinish) {
  WatchDecoder d;
  Collector c;
  const std::string f = frame("ADDED", "a", "1");
  d.feed(std::string_view(f).substr(0, f.size() / 2), c.fn);
  EXPECT_TRUE(c.events.empty());
  try {
    d.finish(c.fn);
    FAIL() << "truncated frame accepted";
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("stream ended inside a frame"), std::string::npos);
  }
}

TEST(WatchDecoder, LastFrameWithoutNewlineIsDecodedAtFinish) {
  WatchDecoder d;
  Collector c;
  std::string f = frame("ADDED", "a", "1");
  f.pop_back();
  d.feed(f, c.fn);
  EXPECT_TRUE(c.events.empty());
  d.finish(c.fn);
  EXPECT_EQ(c.events.size(), 1u);
}

TEST(WatchDecoder, BlankLinesAreIgnored) {
  WatchDecoder d;
  Collector c;
  d.feed("\n\r\n" + frame("ADDED", "a", "1") + "\n", c.fn);
  EXPECT_EQ(c.events.size(), 1u);
}

TEST(WatchDecoder, HandlerCanStopTheStream) {
  WatchDecoder d;
  int n = 0;
  bool more = d.feed(frame("ADDED", "a", "1") + frame("ADDED", "b", "2"), [&](WatchEvent&&) {
    ++n;
    return false;
  });
  EXPECT_FALSE(more);
  EXPECT_EQ(n, 1);
}

TEST(WatchDecoder, OversizedFrameIsRefused) {
  WatchDecoder d;
  Collector c;
  std::string big(1024 * 1024, 'x');
  EXPECT_THROW(
      {
        for (int i = 0; i < 20; ++i) d.feed(big, c.fn);
      },
      ApiError);
}

}  // namespace
}  // namespace kube
