"""Forgot its Plugin class."""
