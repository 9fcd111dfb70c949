"""sequencer/calibration."""
