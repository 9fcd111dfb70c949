"""The simulated bench served over INDI: `flatseq sim indi` (camera, light box with cover, filter wheel)."""
