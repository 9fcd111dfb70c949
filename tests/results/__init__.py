"""flatseq export, preview and report; the stackers that read what flatseq writes."""
