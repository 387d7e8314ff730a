"""Benchmarks of the portal: run with ``python -m tests.benchmarks.run`` (not part of pytest)."""
