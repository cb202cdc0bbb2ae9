"""Benchmark harness for switchpoint: every system under test is a command serving HTTP."""
