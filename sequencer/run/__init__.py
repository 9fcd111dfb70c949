"""sequencer/run."""
