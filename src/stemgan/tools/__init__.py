"""Developer tools that read the source tree (no pipeline work)."""
