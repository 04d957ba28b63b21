#!/usr/bin/env python3
"""Golden chat-template renderings for tests/tokenizer (chat_template_golden_test.cc).

Renders tests/tokenizer/fixtures/llama3_1_instruct_chat_template.jinja for a set of
conversations with the Jinja environment transformers' apply_chat_template uses
(transformers/utils/chat_template_utils.py: ImmutableSandboxedEnvironment with trim_blocks and
lstrip_blocks, the loopcontrols extension, tojson = json.dumps(ensure_ascii=False, ...),
raise_exception and strftime_now globals), and writes the cases with their expected text (or
the expected error) to tests/tokenizer/fixtures/llama3_1_instruct_cases.json.
Needs only python3-jinja2. Usage: python3 tools/hf/render_chat_templates.py
"""
import json
import pathlib
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/tokenizer/fixtures"


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
BASE = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}

CASES = [
    ("system_user_assistant_user", [
        {"role": "system", "content": "  You are a helpful assistant.\n"},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": " 4 "},
        {"role": "user", "content": "Grüße ☃ and 3 + 3?"},
    ], True, {}),
    ("user_only_no_generation_prompt", [{"role": "user", "content": "Hi"}], False, {}),
    ("date_string", [{"role": "user", "content": "Hi"}], True, {"date_string": "29 Nov 2026"}),
    ("custom_tools_in_user_message", [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {
            "name": "get_current_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]},
        {"role": "tool", "content": "{\"temperature\": 3}"},
    ], True, {"tools": [WEATHER_TOOL]}),
    ("custom_tools_in_system_message", [
        {"role": "user", "content": "Weather in Oslo?"},
    ], True, {"tools": [WEATHER_TOOL], "tools_in_user_message": False}),
    ("builtin_tools", [
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "Who won the 2024 final?"},
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {
            "name": "brave_search", "arguments": {"query": "2024 final winner"}}}]},
        {"role": "ipython", "content": {"result": ["a", "b"], "ok": True}},
    ], True, {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}),
    ("tools_without_user_message", [{"role": "system", "content": "x"}], True,
     {"tools": [WEATHER_TOOL]}),
    ("two_tool_calls", [
        {"role": "user", "content": "Two cities?"},
        {"role": "assistant", "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": {}}},
            {"type": "function", "function": {"name": "g", "arguments": {}}}]},
    ], True, {}),
]


def main():
    source = (FIXTURES / "llama3_1_instruct_chat_template.jinja").read_text()
    template = make_env().from_string(source)
    out = []
    for name, messages, add_generation_prompt, extra in CASES:
        context = dict(BASE, **extra)
        case = {"name": name, "messages": messages, "add_generation_prompt": add_generation_prompt,
                "context": context}
        try:
            case["expected"] = template.render(messages=messages,
                                               add_generation_prompt=add_generation_prompt,
                                               **context)
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e)
        out.append(case)
    path = FIXTURES / "llama3_1_instruct_cases.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {len(out)} cases to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
