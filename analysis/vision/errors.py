"""Errors raised by the facial analysis package."""

from __future__ import annotations


class VisionError(Exception):
    """Base class for facial-analysis errors."""


class ModelFileError(VisionError):
    """The face landmarker model file is missing, corrupt or cannot be prepared."""
