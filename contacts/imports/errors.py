"""The one error a reader may raise: a file-level problem a person can act on."""

from __future__ import annotations


class ImportFileError(ValueError):
    """The file cannot be read as what it claims to be; str() says why, in plain words."""
