"""drivers/alpaca."""
