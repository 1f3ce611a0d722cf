"""Benchmarks: runnable measurements, not tests (python -m bench.<module>)."""
