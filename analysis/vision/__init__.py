"""Facial delivery and integrity signals (MediaPipe Face Landmarker)."""
