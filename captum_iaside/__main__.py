import sys

from captum_iaside.cli import main

sys.exit(main())
