"""Voice delivery signals: speaking rate, pauses, fillers, loudness."""
