"""The tokens a chat request costs beyond its text: OpenAI's message and tool formats.

Sources:

* Messages (OpenAI cookbook, "How to count tokens with tiktoken", checked there against
  the API for gpt-3.5-turbo-0125, gpt-4-0613, gpt-4o and gpt-4o-mini):
  every message costs `PER_MESSAGE` = 3 tokens plus the tokens of its role (1 for every
  role name) and of its content; a `name` costs its tokens plus `PER_NAME` = 1; every
  reply is primed with `<|start|>assistant<|message|>`, `REPLY_PRIMING` = 3.
* Tool definitions (same notebook, `num_tokens_for_tools`, checked against the API):
  per function `FUNC_INIT` (7 on o200k models, 10 on cl100k ones) plus the tokens of
  `name:description` (description without its final period); if it has properties,
  `PROP_INIT` = 3, then per property `PROP_KEY` = 3 plus the tokens of
  `key:type:description`, and for an enum `ENUM_INIT` = -3 plus per item `ENUM_ITEM` = 3
  plus its tokens; `FUNC_END` = 12 once after all functions.
  That formula only knows flat properties with a type and a description; anything else a
  schema holds (nested objects, `items`, `anyOf`...) is counted here as its compact JSON
  and flagged as uncertain (`SCHEMA_SLACK`).
* Tool calls and tool results are not covered by the cookbook. Assumed, after the
  harmony format OpenAI published with gpt-oss (`<|start|>assistant to=functions.NAME
  <|channel|>commentary json<|message|>ARGS<|call|>`): a call costs `TOOL_CALL` = 8 tokens
  plus its name and arguments, a result `TOOL_RESULT` = 4 plus its content on top of its
  message's overhead, each +-`TOOL_SLACK` in the error bound.

The same structure is used as the o200k basis for other vendors' estimates, whose
per-message framing is unknown: their ratio and the calibrator absorb the difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from switchpoint.tokens.bpe import EncodingName

PER_MESSAGE: Final = 3
ROLE: Final = 1  # "system", "developer", "user", "assistant", "tool": one token each
PER_NAME: Final = 1
REPLY_PRIMING: Final = 3

FUNC_INIT: Final[Mapping[EncodingName, int]] = {"o200k_base": 7, "cl100k_base": 10}
PROP_INIT: Final = 3
PROP_KEY: Final = 3
ENUM_INIT: Final = -3
ENUM_ITEM: Final = 3
FUNC_END: Final = 12

TOOL_CALL: Final = 8
TOOL_RESULT: Final = 4
TOOL_SLACK: Final = 4
# Of the tokens a schema's unrecognised parts are counted at, the share assumed uncertain.
SCHEMA_SLACK: Final = 0.5

_FLAT_PROPERTY_KEYS: Final = frozenset({"type", "description", "enum"})


@dataclass(slots=True)
class ToolsCost:
    """The texts to tokenize and the fixed tokens of a set of tool definitions."""

    fixed: int = 0
    texts: list[str] = field(default_factory=list)
    # Texts counted as an assumption (unrecognised schema parts): their tokens times
    # SCHEMA_SLACK go into the error bound.
    uncertain_texts: list[str] = field(default_factory=list)


def _strip_period(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


def tools_cost(
    tools: Sequence[tuple[str, str | None, Mapping[str, Any] | None]], encoding: EncodingName
) -> ToolsCost:
    """The cookbook's `num_tokens_for_tools`, for (name, description, JSON schema)."""
    cost = ToolsCost()
    if not tools:
        return cost
    for name, description, parameters in tools:
        cost.fixed += FUNC_INIT[encoding]
        cost.texts.append(f"{name}:{_strip_period(description or '')}")
        params = parameters if isinstance(parameters, Mapping) else {}
        properties = params.get("properties")
        if isinstance(properties, Mapping) and properties:
            cost.fixed += PROP_INIT
            for key, prop in properties.items():
                cost.fixed += PROP_KEY
                if not isinstance(prop, Mapping):
                    cost.texts.append(f"{key}::")
                    continue
                enum = prop.get("enum")
                if isinstance(enum, list):
                    cost.fixed += ENUM_INIT
                    for item in enum:
                        cost.fixed += ENUM_ITEM
                        cost.texts.append(item if isinstance(item, str) else str(item))
                p_type = prop.get("type", "")
                p_desc = _strip_period(str(prop.get("description", "")))
                cost.texts.append(f"{key}:{p_type}:{p_desc}")
                extra = {k: v for k, v in prop.items() if k not in _FLAT_PROPERTY_KEYS}
                if extra:
                    cost.uncertain_texts.append(orjson.dumps(extra).decode())
        extra_params = {
            k: v for k, v in params.items() if k not in ("type", "properties", "required")
        }
        if extra_params:
            cost.uncertain_texts.append(orjson.dumps(extra_params).decode())
    cost.fixed += FUNC_END
    return cost
