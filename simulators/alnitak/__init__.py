"""simulators/alnitak."""
