"""sequencer/plan."""
