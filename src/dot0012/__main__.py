import sys

from dot0012.cli import main


sys.exit(main())
