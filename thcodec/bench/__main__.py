"""`python -m thcodec.bench ...` is `thc bench ...`."""

import sys

from thcodec.cli import app

if __name__ == "__main__":
    sys.exit(app(args=["bench", *sys.argv[1:]], prog_name="python -m thcodec.bench"))
