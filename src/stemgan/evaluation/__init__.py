"""Scoring: coordinate matching, label preservation, realism metrics."""
