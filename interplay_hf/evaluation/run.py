"""The entry point ``accelerate launch`` runs in each rank: ``python -m interplay_hf.evaluation.run`` is
``interplay-hf eval`` (flags and work in :mod:`interplay_hf.evaluation.runner`).

Only a ``__main__`` block lives here, and no module imports this one, so launching it runs each module once
(``tests/test_layers.py`` fails on a ``__main__`` block whose imports lead back to its own module).
"""

import sys

if __name__ == "__main__":
    from interplay_hf.evaluation.cli import eval_main

    sys.exit(eval_main())
