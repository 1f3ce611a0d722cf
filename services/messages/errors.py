"""Errors raised at the message edge."""


class InvalidMessage(ValueError):
    """A message failed decoding or validation; ``reason`` is a short label for metrics."""

    def __init__(self, detail: str, *, reason: str = "schema") -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class UnknownMessage(InvalidMessage):
    """No declaration matches the message's Event-Category / Event-Name."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason="unknown")
