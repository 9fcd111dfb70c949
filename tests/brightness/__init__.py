"""tests/brightness."""
