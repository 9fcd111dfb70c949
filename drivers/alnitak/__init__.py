"""drivers/alnitak."""
