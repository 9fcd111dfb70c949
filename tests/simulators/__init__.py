"""tests/simulators."""
