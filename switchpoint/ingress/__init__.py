"""Ingress protocols: the APIs clients speak (OpenAI Chat Completions, Anthropic Messages)."""
