"""Throughput and memory of ``sigdenoise denoise`` (the batch runner)."""
