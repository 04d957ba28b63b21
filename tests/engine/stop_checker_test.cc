#include "engine/stop_checker.h"

#include <gtest/gtest.h>

namespace swiftkv {
namespace {

TEST(StopChecker, FindsStopAcrossPiecesAndHoldsBackPrefixes) {
  StopChecker checker({"END"});
  std::string streamed;
  streamed += checker.append("hello E");
  EXPECT_EQ(streamed, "hello ");  // "E" could start "END"
  streamed += checker.append("N");
  EXPECT_EQ(streamed, "hello ");
  streamed += checker.append("Dtrailing");
  EXPECT_TRUE(checker.stopped());
  EXPECT_EQ(streamed, "hello ");
  EXPECT_EQ(checker.text(), "hello ");
}

TEST(StopChecker, ReleasesHeldTextWhenItStopsMatching) {
  StopChecker checker({"\n\n", "stop"});
  std::string streamed = checker.append("a\n");
  EXPECT_EQ(streamed, "a");
  streamed += checker.append("b");
  EXPECT_EQ(streamed, "a\nb");
  streamed += checker.append("st");
  streamed += checker.flush();
  EXPECT_EQ(streamed, "a\nbst");
  EXPECT_FALSE(checker.stopped());
}

TEST(StopChecker, EarliestOfSeveralStopsWins) {
  StopChecker checker({"cd", "bcde"});
  checker.append("abcdef");
  EXPECT_TRUE(checker.stopped());
  EXPECT_EQ(checker.text(), "a");  // "bcde" starts before "cd"
}

TEST(StopChecker, NoStopStringsPassesEverything) {
  StopChecker checker({});
  EXPECT_EQ(checker.append("abc"), "abc");
  EXPECT_EQ(checker.flush(), "");
}

}  // namespace
}  // namespace swiftkv
