"""Errors a user can act on.

Every error carries what was wrong and, in ``hint``, what to do about it. The CLI prints
``str(err)`` and exits 2; the web app turns them into 4xx responses.
"""


class EdgefaceError(Exception):
    """Base of all errors caused by input, configuration or the environment (not by bugs)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ImageError(EdgefaceError):
    """An image could not be read or is unusable."""


class ModelFileError(EdgefaceError):
    """A model file is missing, truncated, tampered with or not a model file."""


class StoreError(EdgefaceError):
    """The model store is unreachable, misconfigured or lacks what was asked for."""


class ConfigError(EdgefaceError):
    """A setting is missing or invalid."""


class TrainingError(EdgefaceError):
    """Training found nothing usable."""
