import sys

from stemgan.cli.main import main

sys.exit(main())
