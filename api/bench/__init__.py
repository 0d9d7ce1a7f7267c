"""Benchmarks: each stage through the use cases, timed in its own process."""
