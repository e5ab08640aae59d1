import sys

from brain_brr.cli import main

sys.exit(main())
