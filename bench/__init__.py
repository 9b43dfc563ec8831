"""Benchmarks: ``python -m bench [--quick]`` (see bench/RESULTS.md and docs/scale.md)."""
