"""Connectors: source specs, landing-zone claims, readers per format, canonical mapping."""
