"""Reading a provider's API key from its environment variable, and what makes one
unusable: shared by the gateway's start-up and `switchpoint check`, so both say the same."""

from __future__ import annotations

from collections.abc import Mapping

from switchpoint.config.schema import DEFAULT_KEY_ENV, ProviderConfig

# Vendors that refuse every request without a key: those whose SDKs read one from a
# variable of their own. A compatible server (a local vLLM) may well need none.
KEY_REQUIRED = frozenset(DEFAULT_KEY_ENV)


def read_api_key(provider: ProviderConfig, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The key to send (None for none), and why the provider is unavailable (None if it
    is not)."""
    name = provider.api_key_env
    # Surrounding whitespace is no part of a key: a secret file's trailing newline (a
    # Kubernetes secret made from a file, `echo` into an env file) would otherwise go in
    # the authorization header, which cannot hold it.
    key = (env.get(name) or "").strip() if name else ""
    if key and not (key.isascii() and key.isprintable()):
        return None, f"{name} holds characters no key has (a control character, or non-ASCII)"
    if not key:
        return None, f"{name} is not set" if provider.type in KEY_REQUIRED else None
    return key, None
