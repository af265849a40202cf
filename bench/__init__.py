"""Load benchmarks: figures for the README, never timed assertions in tests."""
