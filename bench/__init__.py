"""Benchmarks on large synthetic data: ``make bench`` writes bench/results.json."""
