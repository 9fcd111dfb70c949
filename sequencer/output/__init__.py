"""sequencer/output."""
