"""The benchmark suite: `python -m benchmarks rank|batch`."""
