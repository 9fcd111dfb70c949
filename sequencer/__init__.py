"""flatseq's engine: sequence files, the plan, the state machine, brightness search, output, CLI."""
