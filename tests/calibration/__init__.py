"""tests/calibration."""
