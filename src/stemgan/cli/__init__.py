"""The `stemgan` command line."""
