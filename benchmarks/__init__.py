"""Benchmarks that run sigdenoise side by side with other systems."""
