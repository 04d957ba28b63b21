// JsonObjectPrefix (response_format json_object): accepts exactly the byte prefixes of JSON texts
// whose top-level value is an object, reports completion when the object closes, and leaves its
// state unchanged on a rejected byte.
#include "engine/json_prefix.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace swiftkv {
namespace {

// The index of the first rejected byte, or -1 when all of `text` is accepted.
int first_rejected(const std::string& text, JsonObjectPrefix* out = nullptr) {
  JsonObjectPrefix json;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!json.feed(text[i])) {
      return static_cast<int>(i);
    }
  }
  if (out != nullptr) {
    *out = json;
  }
  return -1;
}

TEST(JsonObjectPrefix, AcceptsObjectsAndCompletesWhenTheyClose) {
  const std::vector<std::string> documents = {
      "{}",
      "  {\"a\": 1}\n",
      R"({"name": "Lily", "age": 3, "tags": ["a", "b"], "nested": {"x": [1, [2, {}]]}})",
      R"({"n": [0, -0, 12, -3.25, 1e5, 2E-3, 0.5e+10, 7]})",
      R"({"t": true, "f": false, "z": null, "empty": [], "o": {}})",
      R"({"esc": "q\"b\\s\/\b\f\n\r\t\u00e9\uABCD", "utf8": "é — 😀"})",
      "{ \"a\" :\t[ 1 , 2 ] , \"b\" : { } }",
  };
  for (const std::string& doc : documents) {
    JsonObjectPrefix json;
    EXPECT_EQ(first_rejected(doc, &json), -1) << doc;
    EXPECT_TRUE(json.complete()) << doc;
    EXPECT_TRUE(json.feed(' '));
    EXPECT_FALSE(json.feed('{')) << "nothing but whitespace after the object: " << doc;
  }
}

TEST(JsonObjectPrefix, PrefixesAreNotComplete) {
  const std::string doc = R"({"a": [1, 2.5, "x"], "b": {"c": null}})";
  for (size_t n = 0; n < doc.size(); ++n) {
    JsonObjectPrefix json;
    ASSERT_EQ(first_rejected(doc.substr(0, n), &json), -1) << n;
    EXPECT_FALSE(json.complete()) << n;
  }
}

TEST(JsonObjectPrefix, RejectsWhatNoJsonObjectContinues) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"[1]", 0},                    // the top level must be an object
      {"\"s\"", 0},                  // likewise
      {"x", 0},                      //
      {"{a", 1},                     // keys are strings
      {"{\"a\" 1", 5},               // a colon is missing
      {"{\"a\": 01", 7},             // no leading zeros
      {"{\"a\": 1.}", 8},            // a digit must follow the dot
      {"{\"a\": -}", 7},             // a digit must follow the minus
      {"{\"a\": 1e}", 8},            // the exponent needs digits
      {"{\"a\": tru }", 9},          // literals are exact
      {"{\"a\": nul", -1},           // ... but their prefixes are fine
      {"{\"a\": 1,}", 8},            // no trailing comma
      {"{\"a\": [1,]}", 9},          //
      {"{\"a\": [1}", 8},            // brackets must match
      {"{\"a\": 1]", 7},             //
      {"{\"a\": \"x\ny\"}", 8},      // raw control characters in strings
      {"{\"a\": \"\\x\"}", 8},       // unknown escape
      {"{\"a\": \"\\u12g4\"}", 11},  // non-hex in \u
      {"{\"a\": \"\x80\"}", 7},      // a continuation byte without a lead
      {"{\"a\": \"\xC3(\"}", 8},     // a lead byte without its continuation
      {"{\"a\": 1}}", 8},            // one object only
      {"{\"a\": 1} x", 9},
  };
  for (const auto& [text, index] : cases) {
    EXPECT_EQ(first_rejected(text), index) << text;
  }
}

TEST(JsonObjectPrefix, RejectedBytesLeaveTheStateUnchanged) {
  JsonObjectPrefix json;
  ASSERT_TRUE(json.feed_all("{\"a\": [1"));
  EXPECT_FALSE(json.feed_all("2}"));  // '}' does not close '['
  EXPECT_FALSE(json.feed('}'));
  EXPECT_TRUE(json.feed_all("2]}"));
  EXPECT_TRUE(json.complete());
}

TEST(JsonObjectPrefix, BoundsWhitespaceRunsOutsideStrings) {
  const std::string blanks(JsonObjectPrefix::kMaxWhitespaceRun, ' ');
  JsonObjectPrefix json;
  ASSERT_TRUE(json.feed_all(blanks));
  EXPECT_FALSE(json.feed('\n'));
  ASSERT_TRUE(json.feed_all("{\"" + blanks + blanks + "\":" + blanks + "1"));  // strings: any
  EXPECT_FALSE(json.feed_all(blanks + " "));
  EXPECT_TRUE(json.feed_all(blanks + "}" + blanks));
  EXPECT_TRUE(json.complete());
  EXPECT_FALSE(json.feed(' '));
}

}  // namespace
}  // namespace swiftkv
