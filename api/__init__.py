"""The HTTP service and the `placement` command line over the matcher."""
