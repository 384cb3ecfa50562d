"""The pipeline, one module per dvc.yaml stage (and per command): each registers its command line, reads its
params, calls the library packages below and writes its outputs. `stemgan.cli.main` lists them in order."""
