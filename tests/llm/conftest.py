"""Fixtures for the backend tests: the real llama.cpp server (see servers.py)."""

from tests.llm.servers import llama_server

__all__ = ["llama_server"]
