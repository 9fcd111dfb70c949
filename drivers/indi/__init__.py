"""INDI drivers: cameras, light boxes (with dust caps) and filter wheels behind an INDI server."""
