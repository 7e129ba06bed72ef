"""Benchmarks run by hand (`python -m bench.bench_check`); not part of the test suite."""
