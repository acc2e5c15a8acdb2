"""Scores, reports, human ratings, decisions and calibration for the server (docs/review.md).

``store`` reads and writes the tables; ``view`` assembles the report of one interview;
``pdf`` prints it. The scoring itself lives in analysis/scoring.
"""
