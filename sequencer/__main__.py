import sys

from sequencer.cli import main

sys.exit(main())
