"""Sub-commands of `flatseq`; see sequencer.cli."""
