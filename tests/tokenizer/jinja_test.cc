// The Jinja subset of chat templates: each case is a template, its variables and the output
// that Python jinja2 3.1 gives with transformers' environment (trim_blocks, lstrip_blocks,
// loopcontrols, json.dumps tojson); the outputs were worked out by hand from the Jinja
// documentation and confirmed with jinja2. Plus the error cases.
#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/chat_template.h"

namespace swiftkv {
namespace {

struct Case {
  const char* source;
  const char* context;  // JSON object of extra variables ("messages" is always kMessages)
  const char* expected;
};

constexpr const char* kMessages = R"([{"role": "system", "content": "You are helpful."},
  {"role": "user", "content": "  Hi there \n"}, {"role": "assistant", "content": "Hello!"}])";

const Case kCases[] = {
    {"{%- if true -%}  a  {%- endif -%}", "{}", "a"},
    {"  {% if true %}\n  x\n  {% endif %}\ny", "{}", "  x\ny"},
    {"{% for x in ['a','b','c'] %}{{ loop.index0 }}{{ loop.index }}{{ x }}{% if loop.first %}F{% "
     "endif %}{% if loop.last %}L{% endif %}{{ loop.length }}|{% endfor %}",
     "{}", "01aF3|12b3|23cL3|"},
    {"{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'system' %}{% "
     "set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
     "{}", "True"},
    {"{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}", "{}", "1"},
    {"{{ {'name': 'f', 'parameters': {'a': [1, 2.5, none, true]}} | tojson(indent=2) }}", "{}",
     "{\n  \"name\": \"f\",\n  \"parameters\": {\n    \"a\": [\n      1,\n      2.5,\n      "
     "null,\n      true\n    ]\n  }\n}"},
    {"{{ {'a': 'é\"\\n', 'b': [1, 2], 'c': {}} | tojson }}", "{}",
     "{\"a\": \"é\\\"\\n\", \"b\": [1, 2], \"c\": {}}"},
    {"{{ 'Hello' | upper }}{{ 'Hello' | lower }}{{ undefined_var | default('dflt') }}{{ [1,2,3] | "
     "first }}{{ [1,2,3] | last }}{{ ['a','b'] | join(', ') }}{{ 'aXbX' | replace('X', '-') }}{{ "
     "'héllo' | length }}{{ 42 | string + '!' }}",
     "{}", "HELLOhellodflt13a, ba-b-542!"},
    {"{{ x is defined }}{{ y is none }}{{ 'a' is string }}{{ 1 is number }}{{ {} is mapping }}{{ "
     "[1] is iterable }}{{ x is not none }}{{ z is defined }}",
     "{\"x\": 1, \"y\": null}", "TrueTrueTrueTrueTrueTrueTrueFalse"},
    {"{{ 'b' in 'abc' }}{{ 2 in [1,2] }}{{ 'k' in {'k': 1} }}{{ 3 not in [1] }}{{ not false and (1 "
     "< 2 or 1 > 2) }}{{ 1 == 1.0 }}{{ 'a' ~ 1 ~ none }}",
     "{}", "TrueTrueTrueTrueTrueTruea1None"},
    {"{{ 7 // 2 }}{{ -7 // 2 }}{{ 7 % 3 }}{{ 7 / 2 }}{{ 2 ** 10 }}{{ 1 + 2.5 }}{{ [1] + [2] }}{{ "
     "-7 % 3 }}",
     "{}", "3-413.510243.5[1, 2]2"},
    {"{{ '  hi  '.strip() }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x','lo')) }}|{{ "
     "'a,b'.split(',') }}|{{ 'ab'.upper() }}|{{ 'xhix'.strip('x') }}|{{ ' a  b '.split() }}",
     "{}", "hi|True|True|['a', 'b']|AB|hi|['a', 'b']"},
    {"{{ messages[0]['role'] }}{{ messages[0].content }}{{ messages[-1].role }}{{ messages[1:] | "
     "length }}{{ 'hello'[1:3] }}{{ [1,2,3][::-1] }}{{ 'héllo'[1] }}",
     "{}", "systemYou are helpful.assistant2el[3, 2, 1]é"},
    {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'c': "
     "3} | items %}{{ k }}{{ v }}{% endfor %}",
     "{}", "a=1;b=2;c3"},
    {"{{ \"a\\tb\\\\n\\u00e9\\x41\" }}", "{}", "a\tb\\néA"},
    {"{{ 'y' if true else 'n' }}{{ 'y' if false }}.", "{}", "y."},
    {"{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %}", "{\"x\": 2}", "two"},
    {"{% for i in range(10) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% "
     "endif %}{{ i }}{% endfor %}",
     "{}", "02"},
    {"a{# comment #}b\n{# c2 #}\nc", "{}", "ab\nc"},
    {"{{ ['a', 'code_interpreter', 'b'] | reject('equalto', 'code_interpreter') | join(', ') }}",
     "{}", "a, b"},
    {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }}{{ "
     "greet('Al', punct='?') }}",
     "{}", "Hi Bob!Hi Al?"},
    {"{{ none }}{{ true }}{{ [1, 'a', none] }}{{ {'k': 'v'} }}{{ 1.0 }}{{ 1e-5 }}{{ 123456789.125 "
     "}}{{ 1e16 }}",
     "{}", "NoneTrue[1, 'a', None]{'k': 'v'}1.01e-05123456789.1251e+16"},
    {"x\n", "{}", "x"},
    {"  {%+ if true %}a{% endif %}", "{}", "  a"},
    {"{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m.role }}{% else %}none{% "
     "endfor %}{% for m in [] %}x{% else %}empty{% endfor %}",
     "{}", "1user2assistantempty"},
    {"{% set a, b = [1, 2] %}{{ a + b }}{% set c %}block {{ a }}{% endset %}[{{ c }}]", "{}",
     "3[block 1]"},
    {"{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | map('trim') "
     "| list }}",
     "{}", "['Hi there']"},
    {"{{ tools | tojson }}",
     "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
     "\"description\": \"Get weather\", \"parameters\": {\"type\": \"object\", \"properties\": "
     "{\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}]}",
     "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get "
     "weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": "
     "\"string\"}}, \"required\": [\"city\"]}}}]"},
    {"{%- for t in tools %}\n    {{- t | tojson(indent=4) }}\n    {{- \"\\n\\n\" }}\n{%- endfor %}",
     "{\"tools\": [{\"name\": \"f\", \"parameters\": {}}]}",
     "{\n    \"name\": \"f\",\n    \"parameters\": {}\n}\n\n"},
};

std::string render(const std::string& source, const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json context = extra;
  return ChatTemplate(source).render(nlohmann::ordered_json::parse(kMessages), false, context);
}

TEST(Jinja, RendersLikeJinja2) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.source);
    EXPECT_EQ(render(c.source, nlohmann::ordered_json::parse(c.context)), c.expected);
  }
}

TEST(Jinja, StrftimeNowUsesTheClock) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  const std::string year = std::to_string(local.tm_year + 1900);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}{{ strftime_now is defined }}", {}), year + "True");
}

TEST(Jinja, KeepsKeyOrderOfOrderedJson) {
  const auto tools = nlohmann::ordered_json::parse(R"({"tools": [{"z": 1, "a": 2}]})");
  EXPECT_EQ(render("{{ tools[0] | tojson }}", tools), R"({"z": 1, "a": 2})");
  // Plain nlohmann::json sorts keys, so ordered_json is what the server should pass.
  EXPECT_EQ(render_chat_template("{{ tools[0] | tojson }}", nlohmann::json::array(), false,
                                 nlohmann::json::parse(R"({"tools": [{"z": 1, "a": 2}]})")),
            R"({"a": 2, "z": 1})");
}

// The Error message of rendering `source`, or "" if none.
std::string error_of(const std::string& source) {
  try {
    render(source, {});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Jinja, ErrorsNameTheLine) {
  EXPECT_EQ(error_of("ok\n{{ raise_exception('Only user and assistant roles') }}"),
            "chat template line 2: raised: Only user and assistant roles");
  EXPECT_EQ(error_of("a\n\n{% include 'other.jinja' %}"),
            "chat template line 3: unsupported tag 'include'");
  EXPECT_EQ(error_of("{% if true %}\nno end"),
            "chat template line 2: missing {% endif %} for the block opened on line 1");
  EXPECT_EQ(error_of("{{ 'a' | frobnicate }}"),
            "chat template line 1: unknown filter 'frobnicate'");
  EXPECT_EQ(error_of("{{ x is frobnicated }}"), "chat template line 1: unknown test 'frobnicated'");
  EXPECT_EQ(error_of("\n{{ nothing.attr }}"),
            "chat template line 2: 'nothing' is undefined (getting attribute 'attr')");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"),
            "chat template line 1: unsupported operand types for +: 'str' and 'int'");
  EXPECT_EQ(error_of("{{ 'unterminated }}"), "chat template line 1: unterminated string literal");
  EXPECT_EQ(error_of("{{ x "), "chat template line 1: unterminated '{{' tag");
  EXPECT_EQ(error_of("{% for %}{% endfor %}"), "chat template line 1: expected a name, got '%}'");
  EXPECT_EQ(error_of("{{ 1 + }}"), "chat template line 1: unexpected '}}'");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "chat template line 1: cannot set attribute 'y' of 'x', which is not a namespace()");
  EXPECT_EQ(error_of("{{ none | length }}"),
            "chat template line 1: object of type 'NoneType' has no len()");
  EXPECT_EQ(error_of("{# never closed"), "chat template line 1: unterminated comment");
}

TEST(Jinja, RejectsBadRenderInputs) {
  const ChatTemplate t("{{ messages }}");
  EXPECT_THROW(t.render(nlohmann::json::object(), false, nlohmann::json()), Error);
  EXPECT_THROW(t.render(nlohmann::json::array(), false, nlohmann::json::array()), Error);
  EXPECT_EQ(t.render(nlohmann::json::array(), false, nlohmann::json()), "[]");
}

}  // namespace
}  // namespace swiftkv
