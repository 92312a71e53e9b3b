import sys

from captum_iaside.cli.command import main

sys.exit(main())
