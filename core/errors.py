"""Domain errors with a stable code; the API turns them into 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a machine-readable code."""

    code = "invalid"
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(DomainError):
    """The thing asked for does not exist."""

    code = "not_found"
    http_status = 404


class Forbidden(DomainError):
    """The caller's role does not allow this."""

    code = "forbidden"
    http_status = 403


class ConflictError(DomainError):
    """The request contradicts the current state."""

    code = "conflict"
    http_status = 409


class Invalid(DomainError):
    """The request is well-formed but makes no sense."""

    code = "invalid"
    http_status = 422
