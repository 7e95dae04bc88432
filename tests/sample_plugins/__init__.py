"""Plugins for tests/test_plugins.py: one that uses every registration, and broken ones."""
