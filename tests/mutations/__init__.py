"""Deliberate bugs that the suite must catch (see test_mutations.py)."""
