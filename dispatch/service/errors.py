"""The service's refusal: an HTTP status and a sentence (and the field it is about)."""

from __future__ import annotations

from dispatch.errors import DispatchError


class ServiceError(DispatchError):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status, self.field = status, field
        super().__init__(message)
