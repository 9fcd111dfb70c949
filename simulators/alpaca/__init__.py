"""simulators/alpaca."""
