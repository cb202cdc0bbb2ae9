# ruff: noqa: RUF001  (multilingual test text: its "ambiguous" characters are the point)
"""Deterministic generator of realistic agent transcripts, 1K to 1.2M+ tokens.

For this package's tests and benchmarks and for other engineers' end-to-end tests:

    from tests.data.transcripts import generate, openai_body, anthropic_body, conversation
    t = generate(600_000, seed=7)          # about 600K o200k tokens
    body = openai_body(t, model="gpt-5.4")  # an OpenAI chat-completions request body
    body = anthropic_body(t, model="claude-opus-4-7", max_tokens=4096)
    conv = conversation(t)                  # switchpoint.chat Conversation

A transcript is an agent session: a system prompt, a user task, then rounds of
assistant messages with tool calls (read_file, run_shell, search_code, http_get) and tool
results holding source code (Python, TypeScript, Go), JSON API responses, logs and test
output, assistant explanations and user follow-ups; about one user turn in
`cjk_every` is Chinese, Japanese or Korean, and so are some tool results (documents).
Everything comes from word banks and templates written here, independent of the
estimator's fitting corpus, so estimator errors measured on transcripts are held out.

Sizes are steered by the character-class estimate, so a transcript lands within a few
percent of `target_tokens` o200k tokens (tests check 10%). Same seed, same transcript.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from switchpoint.chat.content import Message, Text, ToolCall, ToolResult, ToolSpec
from switchpoint.chat.request import Conversation
from switchpoint.tokens.charclass import estimate

_WORDS_TEXT = """
the of and to in is that for it as with was on be by this are from at or an have not
they which one you had but all were when we there can been has more if will would who so
what about up out them into only some could other time than then now look like system
request model token context limit budget route provider answer error retry cache stream
window message summary tool call result file path value config server client latency
throughput memory thread process queue worker handler parser schema field record index
table query update delete insert commit branch merge review test build deploy release
version module package import export function class method argument return default
option setting timeout backoff circuit breaker threshold metric counter gauge histogram
trace span log warning failure success pending status because however therefore instead
although whether while before after during until quickly carefully exactly roughly
almost always never often usually simply clearly large small new old first last next
previous same different important possible check make take give find keep show change
move start stop run read write send open
"""
WORDS = tuple(_WORDS_TEXT.split())
_IDENT_TEXT = """
user order item cart price total count index name path config client server request
response token model route cache entry key value limit retry timeout handler parser
buffer stream chunk event state status result error message summary budget profile
"""
IDENT = tuple(_IDENT_TEXT.split())
CJK_SENTENCES = [
    "请帮我检查一下这个函数为什么在高并发下会超时。",
    "日志显示连接池在高峰期被耗尽，需要调整上限。",
    "这个接口返回的数据格式和文档里写的不一致。",
    "我们希望在不影响现有客户端的情况下完成迁移。",
    "测试全部通过之后再合并到主分支。",
    "このエラーは設定ファイルの読み込みに失敗したときに発生します。",
    "キャッシュの有効期限を五分に短くしてください。",
    "本番環境では詳細なログを出力しないようにしたいです。",
    "次のリリースまでにこの問題を修正できますか。",
    "이 함수는 입력이 비어 있을 때 예외를 던집니다.",
    "배포 전에 성능 테스트 결과를 공유해 주세요.",
    "요청 시간이 초과되면 다른 모델로 다시 시도합니다.",
    "문서에 예제 코드를 추가하면 좋겠습니다.",
]
TOOLS = [
    ToolSpec(
        "read_file",
        "Read a file from the repository.",
        {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the repository root."},
                "start_line": {"type": "integer", "description": "First line to return."},
            },
            "required": ["path"],
        },
    ),
    ToolSpec(
        "run_shell",
        "Run a shell command in the sandbox and return its output.",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command line."},
                "timeout_s": {"type": "integer", "description": "Seconds before it is killed."},
            },
            "required": ["command"],
        },
    ),
    ToolSpec(
        "search_code",
        "Search the code base for a pattern.",
        {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "A regular expression."},
                "mode": {
                    "type": "string",
                    "description": "How to search.",
                    "enum": ["regex", "literal"],
                },
            },
            "required": ["pattern"],
        },
    ),
    ToolSpec(
        "http_get",
        "Fetch a URL from the internal network.",
        {
            "type": "object",
            "properties": {"url": {"type": "string", "description": "The URL to fetch."}},
            "required": ["url"],
        },
    ),
]


@dataclass(slots=True)
class Call:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Turn:
    """One message: a user text, an assistant text with calls, or one tool's result."""

    role: str  # "user", "assistant", "tool"
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    call_id: str | None = None
    tool_name: str | None = None
    keep: bool = False


@dataclass(slots=True)
class Transcript:
    system: str
    turns: list[Turn]
    tools: list[ToolSpec]
    estimated_tokens: int


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def words(self, n: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=n))

    def sentence(self) -> str:
        text = self.words(self.rng.randrange(6, 22))
        return text[0].upper() + text[1:] + self.rng.choice([".", ".", ".", "?", "!"])

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(sentences))

    def ident(self, parts: int = 2) -> str:
        return "_".join(self.rng.choices(IDENT, k=parts))

    def camel(self) -> str:
        return "".join(w.title() for w in self.rng.choices(IDENT, k=2))

    def cjk(self, sentences: int) -> str:
        return "".join(self.rng.choices(CJK_SENTENCES, k=sentences))

    def python(self, functions: int) -> str:
        rng = self.rng
        out = [
            "from __future__ import annotations\n\n"
            f"import {rng.choice(['json', 'time', 'asyncio'])}\n"
        ]
        for _ in range(functions):
            args = ", ".join(
                f"{self.ident(1)}: {rng.choice(['int', 'str', 'float', 'dict[str, Any]'])}"
                for _ in range(rng.randrange(1, 4))
            )
            body = [f'    """{self.sentence()}"""']
            for _ in range(rng.randrange(3, 10)):
                kind = rng.randrange(4)
                if kind == 0:
                    body.append(
                        f"    {self.ident()} = "
                        f"{self.ident()}({self.ident(1)}, {rng.randrange(100)})"
                    )
                elif kind == 1:
                    body.append(
                        f"    if {self.ident(1)} > {rng.randrange(1, 500)}:\n"
                        f'        raise ValueError(f"{self.words(5)} {{{self.ident(1)}}}")'
                    )
                elif kind == 2:
                    body.append(
                        f"    for {self.ident(1)} in {self.ident()}:\n"
                        f"        {self.ident()}.append({self.ident(1)} * {rng.randrange(2, 9)})"
                    )
                else:
                    body.append(f"    # {self.sentence()}")
            body.append(f"    return {self.ident()}")
            out.append(
                f"\ndef {self.ident()}({args}) -> {rng.choice(['int', 'str', 'bool'])}:\n"
                + "\n".join(body)
                + "\n"
            )
        return "".join(out)

    def typescript(self, functions: int) -> str:
        rng = self.rng
        out = []
        for _ in range(functions):
            name = self.camel()
            out.append(
                f"export async function {name[0].lower() + name[1:]}(input: {self.camel()}): "
                f"Promise<{self.camel()}> {{\n"
                f"  const {self.camel().lower()} = "
                f"await fetch(`/api/{self.ident(1)}/${{input.id}}`);\n"
                f'  if (!{self.camel().lower()}.ok) throw new Error("{self.words(4)}");\n'
                f"  return {{ ...input, {self.ident(1)}: {rng.randrange(1000)}, "
                f"updatedAt: new Date().toISOString() }};\n}}\n"
            )
        return "\n".join(out)

    def go(self, functions: int) -> str:
        out = ["package service\n"]
        out.extend(
            f"\nfunc (s *{self.camel()}) {self.camel()}"
            f"(ctx context.Context, id int64) error {{\n"
            f"\tif err := s.{self.camel()}(ctx, id); err != nil {{\n"
            f'\t\treturn fmt.Errorf("{self.words(3)}: %w", err)\n\t}}\n'
            f"\treturn nil\n}}\n"
            for _ in range(functions)
        )
        return "".join(out)

    def json_value(self, depth: int) -> Any:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.35:
            choice = rng.randrange(5)
            if choice == 0:
                return rng.randrange(10**6)
            if choice == 1:
                return round(rng.uniform(0, 1000), 3)
            if choice == 2:
                return rng.random() < 0.5
            if choice == 3:
                return f"{rng.getrandbits(64):016x}"
            return self.words(rng.randrange(1, 8))
        if rng.random() < 0.3:
            return [self.json_value(depth - 1) for _ in range(rng.randrange(1, 5))]
        return {
            self.ident(rng.randrange(1, 3)): self.json_value(depth - 1)
            for _ in range(rng.randrange(2, 7))
        }

    def json_doc(self, items: int) -> str:
        doc = {"data": [self.json_value(3) for _ in range(items)], "next_cursor": self.ident()}
        if self.rng.random() < 0.5:
            return json.dumps(doc, indent=2, ensure_ascii=False)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)

    def logs(self, lines: int) -> str:
        rng = self.rng
        out = []
        for i in range(lines):
            level = rng.choice(["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"])
            out.append(
                f"2026-11-{rng.randrange(10, 28)}T{rng.randrange(24):02d}:{i % 60:02d}:"
                f"{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z {level:5s} "
                f"[{self.ident(1)}-{rng.randrange(1, 16)}] {self.ident()}: "
                f"{self.words(rng.randrange(3, 12))}"
                f" id={rng.getrandbits(32):08x} ms={rng.randrange(1, 9000)}"
            )
        return "\n".join(out)

    def test_output(self, tests: int) -> str:
        rng = self.rng
        lines = [
            f"tests/test_{self.ident(1)}.py::test_{self.ident()} "
            f"{rng.choice(['PASSED', 'PASSED', 'PASSED', 'FAILED'])}"
            for _ in range(tests)
        ]
        return (
            "\n".join(lines)
            + f"\n==== {rng.randrange(5)} failed, {tests} passed in {rng.uniform(1, 90):.2f}s ===="
        )


def _tool_result(writer: _Writer, name: str, rng: random.Random, size: int, cjk: bool) -> str:
    """A result of roughly `size` units (functions, items, lines...)."""
    if cjk:
        return writer.cjk(size * 3)
    if name == "read_file":
        kind = rng.randrange(3)
        if kind == 0:
            return writer.python(size)
        if kind == 1:
            return writer.typescript(size)
        return writer.go(size)
    if name == "run_shell":
        return writer.logs(size * 4) if rng.random() < 0.6 else writer.test_output(size * 4)
    if name == "search_code":
        return "\n".join(
            f"src/{writer.ident(1)}/{writer.ident()}.py:{rng.randrange(1, 900)}: "
            f"{writer.ident()} = {writer.ident()}({writer.ident(1)})"
            for _ in range(size * 3)
        )
    return writer.json_doc(size)


def _arguments(writer: _Writer, name: str, rng: random.Random) -> str:
    if name == "read_file":
        args: dict[str, Any] = {"path": f"src/{writer.ident(1)}/{writer.ident()}.py"}
    elif name == "run_shell":
        args = {
            "command": rng.choice(
                [
                    "pytest -q",
                    "make check",
                    "git log --oneline -20",
                    f"grep -rn {writer.ident()} src/",
                ]
            ),
            "timeout_s": 120,
        }
    elif name == "search_code":
        args = {"pattern": writer.ident(), "mode": "literal"}
    else:
        args = {
            "url": f"http://{writer.ident(1)}.internal/api/{writer.ident(1)}"
            f"?limit={rng.randrange(10, 500)}"
        }
    return json.dumps(args)


def generate(
    target_tokens: int, *, seed: int = 0, cjk_every: int = 7, keep_first_task: bool = True
) -> Transcript:
    """A transcript of about `target_tokens` o200k tokens (never less than one round)."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    system = (
        "You are a coding agent working in a sandboxed repository. Use the tools to read "
        "files, run commands and search the code. Explain what you find, make minimal "
        "changes, and run the tests before you finish. " + writer.paragraph(4)
    )
    turns: list[Turn] = [Turn("user", "Task: " + writer.paragraph(3), keep=keep_first_task)]
    total = estimate(system) + estimate(turns[0].text)
    call_number = 0
    round_number = 0
    while total < target_tokens:
        round_number += 1
        calls = []
        for _ in range(1 if rng.random() < 0.75 else 2):
            name = rng.choice(TOOLS).name
            call_number += 1
            calls.append(Call(f"call_{seed}_{call_number}", name, _arguments(writer, name, rng)))
        assistant = Turn("assistant", writer.paragraph(rng.randrange(1, 3)), calls=calls)
        turns.append(assistant)
        total += estimate(assistant.text) + sum(estimate(c.arguments) + 8 for c in calls)
        for call in calls:
            # Mostly small results, sometimes a whole file or a long log.
            size = rng.choice([1, 1, 2, 2, 3, 4, 6, 10, 25])
            cjk = rng.randrange(cjk_every * 3) == 0
            text = _tool_result(writer, call.name, rng, size, cjk)
            turns.append(Turn("tool", text, call_id=call.id, tool_name=call.name))
            total += estimate(text) + 8
        if rng.random() < 0.3:
            reply = Turn("assistant", writer.paragraph(rng.randrange(2, 6)))
            follow_up = (
                writer.cjk(rng.randrange(1, 4))
                if round_number % cjk_every == 0
                else writer.paragraph(2)
            )
            turns += [reply, Turn("user", follow_up)]
            total += estimate(reply.text) + estimate(follow_up) + 8
    if turns[-1].role != "user":
        turns.append(Turn("assistant", writer.paragraph(2)))
        turns.append(Turn("user", "Thanks. " + writer.paragraph(1)))
        total += estimate(turns[-1].text) + estimate(turns[-2].text)
    return Transcript(system=system, turns=turns, tools=list(TOOLS), estimated_tokens=total)


def openai_body(
    t: Transcript, *, model: str = "gpt-5.4", keep_marks: bool = False
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": t.system}]
    for turn in t.turns:
        if turn.role == "tool":
            messages.append({"role": "tool", "tool_call_id": turn.call_id, "content": turn.text})
            continue
        message: dict[str, Any] = {"role": turn.role, "content": turn.text}
        if turn.calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in turn.calls
            ]
        if keep_marks and turn.keep:
            message["switchpoint_keep"] = True
        messages.append(message)
    tools = [
        {
            "type": "function",
            "function": {"name": s.name, "description": s.description, "parameters": s.parameters},
        }
        for s in t.tools
    ]
    return {"model": model, "messages": messages, "tools": tools}


def responses_body(
    t: Transcript, *, model: str = "gpt-5.4", keep_marks: bool = False
) -> dict[str, Any]:
    """OpenAI Responses shape: the system prompt as `instructions`, each call and each
    result an item of its own."""
    items: list[dict[str, Any]] = []
    for turn in t.turns:
        if turn.role == "tool":
            items.append(
                {"type": "function_call_output", "call_id": turn.call_id, "output": turn.text}
            )
            continue
        message: dict[str, Any] = {"role": turn.role, "content": turn.text}
        if keep_marks and turn.keep:
            message["switchpoint_keep"] = True
        if turn.text or not turn.calls:
            items.append(message)
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            for c in turn.calls
        )
    tools = [
        {
            "type": "function",
            "name": s.name,
            "description": s.description,
            "parameters": s.parameters,
        }
        for s in t.tools
    ]
    return {"model": model, "instructions": t.system, "input": items, "tools": tools}


def anthropic_body(
    t: Transcript,
    *,
    model: str = "claude-opus-4-7",
    max_tokens: int = 4096,
    keep_marks: bool = False,
) -> dict[str, Any]:
    """Anthropic shape: tool results of one assistant turn grouped in one user message."""
    messages: list[dict[str, Any]] = []
    for turn in t.turns:
        if turn.role == "tool":
            block = {"type": "tool_result", "tool_use_id": turn.call_id, "content": turn.text}
            last = messages[-1]
            if (
                last["role"] == "user"
                and isinstance(last["content"], list)
                and all(b.get("type") == "tool_result" for b in last["content"])
            ):
                last["content"].append(block)
            else:
                messages.append({"role": "user", "content": [block]})
            continue
        content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
        content.extend(
            {"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments)}
            for c in turn.calls
        )
        message: dict[str, Any] = {"role": turn.role, "content": content}
        if keep_marks and turn.keep:
            message["switchpoint_keep"] = True
        if messages and messages[-1]["role"] == turn.role == "user":
            messages[-1]["content"] = [*_as_blocks(messages[-1]["content"]), *content]
        else:
            messages.append(message)
    tools = [
        {"name": s.name, "description": s.description, "input_schema": s.parameters}
        for s in t.tools
    ]
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": t.system,
        "messages": messages,
        "tools": tools,
    }


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def conversation(t: Transcript) -> Conversation:
    """The internal shape: tool results are user messages holding ToolResult blocks."""
    messages: list[Message] = []
    for turn in t.turns:
        if turn.role == "tool":
            result = ToolResult(turn.call_id or "", [Text(turn.text)], name=turn.tool_name)
            last = messages[-1] if messages else None
            if (
                last is not None
                and last.role == "user"
                and all(isinstance(b, ToolResult) for b in last.content)
            ):
                last.content.append(result)
            else:
                messages.append(Message("user", [result]))
            continue
        blocks: list[Any] = [Text(turn.text)] if turn.text else []
        blocks += [ToolCall(c.id, c.name, c.arguments) for c in turn.calls]
        messages.append(
            Message("user" if turn.role == "user" else "assistant", blocks, keep=turn.keep)
        )
    return Conversation(messages=messages, system=[Text(t.system)], tools=list(t.tools))


@lru_cache(maxsize=8)
def cached_transcript(target_tokens: int, seed: int = 0) -> Transcript:
    """`generate`, memoized per process: tests share transcripts (1M tokens take ~1 s).
    Callers must not mutate the result."""
    return generate(target_tokens, seed=seed)
