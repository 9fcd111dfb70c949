"""sequencer/core."""
