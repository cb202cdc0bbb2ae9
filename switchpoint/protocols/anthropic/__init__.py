"""Anthropic Messages (`POST /v1/messages`)."""

PROTOCOL = "anthropic_messages"
