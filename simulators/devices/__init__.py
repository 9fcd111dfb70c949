"""simulators/devices."""
