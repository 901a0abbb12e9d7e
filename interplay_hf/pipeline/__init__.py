"""Multi-stage pipelines: a recipe YAML becomes a validated, hashed plan of stage commands, run resumably.

- ``plan.py``: parse and check a pipeline YAML, expand matrices, apply the budget, order and hash the stages;
- ``batch.py``: a training stage keeps its recipe's global batch on any process count;
- ``smoke.py``: the toy-scale CPU version of every stage (``--smoke``);
- ``placement.py``: training stages re-targeted to other hardware (``--placement gpu``) without new hashes;
- ``run.py``: skip finished stages, resume crashed ones, run the rest as subprocesses;
- ``cli.py``: the ``pipeline`` and ``quickstart`` sub-commands.

Kept empty of imports so that ``interplay-hf --help`` (which loads ``cli.py``) stays fast.
"""
