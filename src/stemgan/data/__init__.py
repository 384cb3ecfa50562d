"""Image and label files, ingest of experimental images, normalisation and tiling."""
