"""`ChatResponse` <-> an OpenAI Responses `response` object.

The object repeats the request's parameters (`echo`), lists the answer as output items
(a `message` for each run of text, or of a refusal's, which has a content part of its
own; a `function_call` for each tool call) and says whether the answer is `completed`
or `incomplete` (cut by the output limit or a content filter). Reasoning is not
rendered, as on the Chat Completions ingress. Ids derive from switchpoint's request id,
so that a client's log line leads to the gateway's.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from switchpoint.chat.content import Block, Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse, StopReason
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai.response import MalformedResponse
from switchpoint.protocols.openai_responses import PROTOCOL
from switchpoint.protocols.token_counts import token_count
from switchpoint.protocols.tool_arguments import finished_arguments


def response_echo(body: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters, as a response object repeats them (OpenAI's defaults
    where the client left one out). `store` is false: switchpoint keeps no response."""
    text = body.get("text")
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": False,
        "temperature": body.get("temperature", 1.0),
        "text": text if isinstance(text, dict) and text else {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
    }


def response_id(request_id: str) -> str:
    return f"resp_{request_id}"


def message_item_id(request_id: str, output_index: int) -> str:
    return f"msg_{request_id}_{output_index}"


def call_item_id(request_id: str, output_index: int) -> str:
    return f"fc_{request_id}_{output_index}"


def call_id(block_id: str, request_id: str, output_index: int) -> str:
    """The vendor's id for the call, which the client sends back with the output; one
    made up when the vendor gave none."""
    return block_id or f"call_{request_id}_{output_index}"


def status_of(stop_reason: StopReason, refused: bool = False) -> tuple[str, dict[str, str] | None]:
    """The response's `status` and `incomplete_details`. `refused`: the answer holds a
    refusal part; a model that refused has answered (`completed`, as OpenAI's chat says
    `stop`), where a content filter cut the answer short."""
    if stop_reason == "max_tokens" or stop_reason == "context_window_exceeded":
        return "incomplete", {"reason": "max_output_tokens"}
    if stop_reason == "content_filter" and not refused:
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def message_item(item_id: str, text: str, status: str, refusal: bool = False) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [refusal_part(text) if refusal else output_text_part(text)],
    }


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(refusal: str) -> dict[str, Any]:
    """Why the model refused: not `output_text`, which the SDK's `output_text` and
    `parse()` read as the answer."""
    return {"type": "refusal", "refusal": refusal}


def call_item(item_id: str, call: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        # Required by the API: 0 also where the vendor does not say.
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def response_object(
    request_id: str,
    *,
    created_at: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    echo: dict[str, Any],
    usage: Usage | None = None,
    incomplete_details: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": response_id(request_id),
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "model": model,
        "output": output,
        "usage": encode_usage(usage) if usage is not None else None,
        **echo,
    }
    if status == "completed":
        body["completed_at"] = int(time.time())
    return body


def output_items(content: list[Block], request_id: str, status: str) -> list[dict[str, Any]]:
    """A message item for each run of text (a refusal's text is a run of its own), a
    function_call item for each tool call, in the answer's order, as the stream encoder
    sends them (empty text and reasoning make no item). Only the last item was being
    written when the answer ended: it alone takes an `incomplete` status."""
    items: list[dict[str, Any]] = []
    texts: list[str] = []
    refused = False  # the run in `texts` is a refusal's

    def end_text() -> None:
        if texts:
            item_id = message_item_id(request_id, len(items))
            items.append(message_item(item_id, "".join(texts), "completed", refused))
            texts.clear()

    for block in content:
        if type(block) is Text:
            if block.text:
                if block.refusal != refused:
                    end_text()
                    refused = block.refusal
                texts.append(block.text)
        elif type(block) is ToolCall:
            end_text()
            index = len(items)
            items.append(
                call_item(
                    call_item_id(request_id, index),
                    call_id(block.id, request_id, index),
                    block.name,
                    finished_arguments(block.arguments),
                    "completed",
                )
            )
    end_text()
    if items:
        items[-1]["status"] = status
    return items


def encode_response(response: ChatResponse, request_id: str, echo: dict[str, Any]) -> bytes:
    if response.raw is not None and response.raw_protocol == PROTOCOL:
        return response.raw  # served over the same API: the vendor's own object
    stop = response.stop_reason
    refused = stop == "content_filter" and any(
        type(block) is Text and block.refusal for block in response.content
    )
    status, incomplete = status_of(stop, refused)
    return orjson.dumps(
        response_object(
            request_id,
            created_at=int(time.time()),
            model=response.model,
            status=status,
            output=output_items(response.content, request_id, status),
            echo=echo,
            usage=response.usage,
            incomplete_details=incomplete,
        )
    )


# --- decoding: a response object from a model served over the Responses API -----------


def decode_usage(usage: object) -> Usage | None:
    """None when absent or when a count is not one (the usage is then estimated)."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    counts = [token_count(usage.get(k) or 0) for k in ("input_tokens", "output_tokens")]
    cached_count = token_count(cached or 0)
    if counts[0] is None or counts[1] is None or cached_count is None:
        return None
    decoded = Usage(
        input_tokens=counts[0], output_tokens=counts[1], cached_input_tokens=cached_count
    )
    output_details = usage.get("output_tokens_details")
    if isinstance(output_details, dict):
        # Part of the output: a bad figure here is dropped, the billed counts stand.
        decoded.reasoning_tokens = token_count(output_details.get("reasoning_tokens") or 0) or 0
    return decoded


def stop_reason_of(response: dict[str, Any], called: bool) -> StopReason:
    """The internal stop reason of a finished response (`called`: it holds a tool call)."""
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.get("status") == "incomplete" or reason is not None:
        return "content_filter" if reason == "content_filter" else "max_tokens"
    return "tool_use" if called else "end_turn"


def decode_response(raw: bytes) -> ChatResponse:
    try:
        return _decoded(raw)
    except MalformedResponse:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        # Valid JSON of a shape not checked for (`content: 1`, a `null` summary text):
        # malformed all the same, so the chain's next target serves the call.
        raise MalformedResponse("a response object of an unexpected shape") from None


def _decoded(raw: bytes) -> ChatResponse:
    try:
        body = orjson.loads(raw)
        output = body["output"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise MalformedResponse("not a response object") from None
    if not isinstance(output, list):
        raise MalformedResponse("'output' is not an array")
    if body.get("status") == "failed":
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise MalformedResponse(f"the response failed: {message or 'no reason given'}")
    content: list[Block] = []
    refused = False
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            raise MalformedResponse(f"output[{index}] is not an object")
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                refusal = part.get("type") == "refusal"
                text = part.get("refusal") if refusal else part.get("text")
                if isinstance(text, str) and text:
                    refused = refused or refusal
                    content.append(Text(text, refusal=refusal))
        elif kind == "function_call":
            name, arguments = item.get("name"), item.get("arguments", "")
            if not isinstance(name, str) or not isinstance(arguments, str):
                raise MalformedResponse(f"output[{index}] is a function call without a name")
            call = item.get("call_id")
            content.append(ToolCall(call if isinstance(call, str) else "", name, arguments))
        elif kind == "reasoning":
            summary = "".join(
                part.get("text", "") for part in item.get("summary") or () if isinstance(part, dict)
            )
            if summary:
                content.append(Thinking(summary))
    stop = stop_reason_of(body, any(type(b) is ToolCall for b in content))
    return ChatResponse(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=content,
        # A refusal is a completed answer in this API; in the internal shape, a filter.
        stop_reason="content_filter" if refused and stop == "end_turn" else stop,
        usage=decode_usage(body.get("usage")),
        raw=raw,
        raw_protocol=PROTOCOL,
    )
