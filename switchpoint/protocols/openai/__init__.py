"""OpenAI Chat Completions (`POST /v1/chat/completions`)."""

PROTOCOL = "openai_chat"
