"""Benchmarks: ``make bench`` (or ``python -m benchmarks [NAME ...]``) prints one table each.

Every benchmark reports ratios against a floor measured in the same run, never absolute
thresholds, and takes the best of several repetitions (the minimum is the least disturbed by
other work on the machine).
"""
