"""Independent reference implementations the tests and benchmarks check the matcher against."""
