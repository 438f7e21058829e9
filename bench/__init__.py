"""Benchmarks (`make bench`): figures and ratios against peers measured in the same run."""
