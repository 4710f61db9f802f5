"""Benchmarks: `python -m benchmarks [NAME …]` runs them and prints what each measured."""
