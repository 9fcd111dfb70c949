"""tests/drivers."""
