"""Example plugin."""
