"""OpenAI Responses (`POST /v1/responses`), the API Codex CLI and OpenAI's newer SDK
examples speak, both ways: clients' requests in (stateless: switchpoint keeps nothing
between calls, so each request carries its whole conversation, as with `store: false`),
and out to the models OpenAI serves only over it (a provider of type
`openai_responses`)."""

PROTOCOL = "openai_responses"
