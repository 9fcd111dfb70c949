"""tests/run."""
