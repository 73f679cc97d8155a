"""Validation: GX row suites per source, reason catalogue, quarantine."""
