"""An offline, API-compatible Nemo backend: composes real music and renders real exports locally."""

__version__ = "0.2.0"
