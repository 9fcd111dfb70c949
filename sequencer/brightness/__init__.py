"""sequencer/brightness."""
