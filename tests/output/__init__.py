"""tests/output."""
