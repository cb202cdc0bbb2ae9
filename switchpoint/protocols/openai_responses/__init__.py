"""OpenAI Responses (`POST /v1/responses`), the API Codex CLI and OpenAI's newer SDK
examples speak. Only as an ingress: switchpoint holds no state between calls, so each
request carries its whole conversation (`store: false`), and every vendor is reached
through its own protocol."""

PROTOCOL = "openai_responses"
