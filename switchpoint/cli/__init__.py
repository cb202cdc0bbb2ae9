"""The `switchpoint` command."""
