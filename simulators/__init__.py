"""Physically realistic simulated devices on one optical bench, and protocol emulators."""
