"""simulators/physics."""
