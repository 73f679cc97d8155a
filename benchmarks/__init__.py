"""Benchmarks: run by `make bench-*`, never imported by the product or its tests."""
