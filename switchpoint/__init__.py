"""Switchpoint: a workload-aware LLM routing gateway."""

__version__ = "0.1.0"
