"""Model backends: what to ask lives in recipes; a backend only turns requests into text."""

from synthmill.llm.base import Backend, Completion, Request

__all__ = ["Backend", "Completion", "Request"]
