"""Typed, validated configuration: the only thing every other layer may depend on."""

from switchpoint.config.loader import ConfigError, load_config
from switchpoint.config.schema import Config

__all__ = ["Config", "ConfigError", "load_config"]
