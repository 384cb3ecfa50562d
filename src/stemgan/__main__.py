from stemgan.cli.main import entry

entry()
