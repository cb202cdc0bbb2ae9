"""Reading a configuration file into a validated `Config`.

The file is laid over the built-in defaults: providers and model prices merge by name
(so `openai`, `anthropic` and `google` exist unless overridden), sections merge key by
key, and `routing.profiles` replaces the built-in registry as a whole (otherwise a
profile could never be removed). Every problem is reported with the key that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from switchpoint.config.defaults import default_document
from switchpoint.config.schema import Config
from switchpoint.url_redaction import redact_url


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem], source: str = "configuration") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source} is invalid ({len(problems)} problem(s)):\n{lines}")


def load_config(path: str | Path | None = None) -> Config:
    """The built-in configuration, or the file at `path` laid over it."""
    if path is None:
        return parse_config({}, source="built-in configuration")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read {file}: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem("", _not_utf8(exc))], source=str(file)) from None
    try:
        # A SafeLoader (no arbitrary objects) that also refuses duplicate keys.
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError([ConfigProblem("", f"{problem}{where}")], source=str(file)) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            [ConfigProblem("", "the top level must be a mapping of sections")], source=str(file)
        )
    return parse_config(document, source=str(file))


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping: YAML forbids it,
    but PyYAML lets the last one win, which hides a copy-paste mistake (a second
    `server:` section silently replacing the first)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # Mappings already checked: `flatten_mapping` can see a mapping again after its
        # merge keys (`<<: *base`) were expanded into it, which are not duplicates.
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) not in self._checked:
            self._checked.add(id(node))
            self._reject_duplicate_keys(node)
        super().flatten_mapping(node)

    def _reject_duplicate_keys(self, node: yaml.MappingNode) -> None:
        first_line: dict[object, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # merges may override; complex keys are refused elsewhere
            key = self.construct_object(key_node)
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first given at line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1


def parse_config(document: dict[str, Any], *, source: str = "configuration") -> Config:
    merged = _merge_over_defaults(document)
    explicit = document.get("routing") or {}
    # Told from the document itself, so that they are reported with the other problems
    # (one round of fixes, not one per kind), whether or not every value is valid.
    unexpanded = list(_environment_references(document))
    references = unexpanded + list(
        _reference_problems(merged, explicit if isinstance(explicit, dict) else {})
    )
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        said = {problem.key for problem in references}
        # Nor again for the section holding an unexpanded value (a store and its url).
        holders = {key.rsplit(".", 1)[0] for key in (p.key for p in unexpanded)}
        problems = references + [
            problem
            for problem in _pydantic_problems(exc)
            if problem.key not in said and problem.key not in holders
        ]
        raise ConfigError(problems, source=source) from None
    if references:
        raise ConfigError(references, source=source)
    return _with_implicit_references_resolved(config, document.get("routing") or {})


# `${NAME}`, as docker-compose and shells expand: the file is read as it is written.
_ENVIRONMENT_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?-[^}]*)?\}")


def _environment_references(value: object, key: str = "") -> Iterable[ConfigProblem]:
    """Values holding `${NAME}`: switchpoint expands no variables in its file, so one
    would be used as written (a header sent as `${TOKEN}`, a host named `${HOST}`)."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _environment_references(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _environment_references(item, f"{key}[{index}]")
    elif isinstance(value, str) and (found := _ENVIRONMENT_REFERENCE.search(value)):
        yield ConfigProblem(
            key,
            f"{found.group()} is not expanded: the file is read as written (secrets are "
            "read from the variables that api_key_env and master_key_env name)",
        )


def _merge_over_defaults(document: dict[str, Any]) -> dict[str, Any]:
    merged = default_document()
    for section, value in document.items():
        if value is None:
            continue  # a section with every key commented out: the defaults stand
        if section in ("providers", "models") and isinstance(value, dict):
            merged[section] = {**merged[section], **value}
        elif section == "routing" and isinstance(value, dict):
            merged[section] = _merge_routing(merged[section], value)
        else:
            merged[section] = value
    return merged


def _merge_routing(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if value is None and isinstance(base.get(key), dict):
            continue  # as for a whole section: nothing set, the defaults stand
        if key != "profiles" and isinstance(value, dict) and isinstance(base.get(key), dict):
            result[key] = {**base[key], **value}
        else:
            result[key] = value
    return result


def _pydantic_problems(exc: ValidationError) -> Iterable[ConfigProblem]:
    for error in exc.errors(include_url=False):
        # Drop pydantic's internal tags (e.g. the `function-after[...]` of a validator).
        parts = [
            # A name that cannot be printed on one line (a line break in it) is quoted.
            str(p) if str(p).isprintable() else repr(p)
            for p in error["loc"]
            # Pydantic's own tags: a validator's (`function-after[...]`), a mapping key's.
            if not str(p).startswith("function-") and p != "[key]"
        ]
        key = ".".join(parts)
        if error["type"] == "extra_forbidden":
            yield ConfigProblem(key, "unknown key")
        elif error["type"] == "missing":
            yield ConfigProblem(key, "required key is missing")
        elif error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            # Pydantic names its own classes here ("instance of ServerConfig").
            shown = _shown(error.get("input"))
            message = "must be a mapping of keys"
            yield ConfigProblem(key, f"{message} (got {shown})" if shown else message)
        else:
            message = error["msg"].removeprefix("Value error, ")
            shown = _shown(error.get("input"))
            yield ConfigProblem(key, f"{message} (got {shown})" if shown else message)


def _shown(value: object) -> str | None:
    """The value a problem was found in, short and without credentials; None for a
    whole section (its validator's message says what is wrong, and the section may hold
    secrets, a password in a URL)."""
    if isinstance(value, dict | list):
        return None
    text = repr(redact_url(value) if isinstance(value, str) and "://" in value else value)
    return text if len(text) <= 60 else text[:57] + "..."


# Keys that name a profile. Their built-in defaults name seed profiles; a registry
# without those is not an error unless the file itself names the missing profile.
_PROFILE_REFERENCES: tuple[tuple[str, str | None], ...] = (
    ("default_profile", None),
    ("context", "long_context_profile"),
    ("context", "summarizer_profile"),
    ("cost", "budget_profile"),
)


def _is_explicit(explicit: dict[str, Any], section: str, key: str | None) -> bool:
    if key is None:
        return section in explicit
    sub = explicit.get(section)
    return isinstance(sub, dict) and key in sub


def _explicit_value(explicit: dict[str, Any], section: str, key: str | None) -> object:
    return explicit[section] if key is None else explicit[section][key]


def _reference_problems(
    merged: dict[str, Any], explicit: dict[str, Any]
) -> Iterable[ConfigProblem]:
    """Names of profiles and providers that name nothing, from the merged document as
    written (values of the wrong shape are left to the schema's own problems)."""
    routing = merged.get("routing")
    profiles = routing.get("profiles") if isinstance(routing, dict) else None
    if not isinstance(profiles, dict) or not profiles:
        return
    providers = merged.get("providers")
    provider_names = set(providers) if isinstance(providers, dict) else None
    known_profiles = ", ".join(sorted(map(str, profiles)))
    for name, profile in profiles.items():
        if not isinstance(profile, dict):
            continue
        base = f"routing.profiles.{name}"
        provider = profile.get("provider")
        names = provider_names
        if isinstance(provider, str) and provider and names is not None and provider not in names:
            yield ConfigProblem(
                f"{base}.provider",
                f"unknown provider {provider!r} (known: {', '.join(sorted(map(str, names)))})",
            )
        fallbacks = profile.get("fallbacks")
        for i, target in enumerate(fallbacks if isinstance(fallbacks, list | tuple) else ()):
            if not isinstance(target, str):
                continue
            if target not in profiles:
                yield ConfigProblem(
                    f"{base}.fallbacks[{i}]",
                    f"unknown profile {target!r} (known: {known_profiles})",
                )
            elif target == name:
                yield ConfigProblem(
                    f"{base}.fallbacks[{i}]", "a profile cannot fall back to itself"
                )
    cost = routing.get("cost") if isinstance(routing, dict) else None
    budgets = cost.get("task_budgets") if isinstance(cost, dict) else None
    for name in budgets if isinstance(budgets, dict) else ():
        if name not in profiles:
            yield ConfigProblem(
                f"routing.cost.task_budgets.{name}",
                f"unknown profile {name!r} (known: {known_profiles})",
            )
    for section, key in _PROFILE_REFERENCES:
        if not _is_explicit(explicit, section, key):
            continue
        value = _explicit_value(explicit, section, key)
        if not isinstance(value, str) or value in profiles:
            continue
        path = "routing." + (section if key is None else f"{section}.{key}")
        yield ConfigProblem(path, f"unknown profile {value!r} (known: {known_profiles})")


def _with_implicit_references_resolved(config: Config, explicit: dict[str, Any]) -> Config:
    """Built-in defaults that name seed profiles fall back sensibly for other registries."""
    routing = config.routing
    profiles = routing.profiles
    updates: dict[str, Any] = {}
    if routing.default_profile not in profiles:
        updates["default_profile"] = next(iter(profiles))
    context = routing.context
    if context.long_context_profile is not None and context.long_context_profile not in profiles:
        updates["context"] = context.model_copy(update={"long_context_profile": None})
    cost = routing.cost
    if cost.budget_profile is not None and cost.budget_profile not in profiles:
        updates["cost"] = cost.model_copy(update={"budget_profile": None})
    if not updates:
        return config
    return config.model_copy(update={"routing": routing.model_copy(update=updates)})
