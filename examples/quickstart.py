"""Tiny end-to-end SoftCoT run on CPU: build, train the projection a few steps, generate, save, reload.

python examples/quickstart.py --output-dir softcot-quickstart
"""

import sys

from softcot_hf.cli import main

if __name__ == "__main__":
    main(["quickstart", *sys.argv[1:]])
