"""Multi-stage pipelines: a recipe YAML becomes a validated, hashed plan of stage commands, run resumably.

- ``schema.py``: every key a pipeline YAML may use, the stage types, the ``PlannedStage`` / ``Plan`` dataclasses;
- ``stages.py``: a stage mapping parsed once into the dataclass of its kind, which checks and renders itself;
- ``plan.py``: the planning chain (read, expand matrices, parse stages, budget, ``${refs}`` → inputs, render),
  then the stages in order, hashed;
- ``budget.py``: a fixed number of training samples split between stages (``budget:``);
- ``commands.py``: a stage's command line (``${refs}`` resolved, flags rendered) and its merged recipe;
- ``hashing.py``: a stage's hash of everything that determines its output;
- ``flag_check.py``: stage args checked against the flags of the command they go to;
- ``batch.py``: a training stage keeps its recipe's global batch on any process count;
- ``smoke.py``: the toy-scale CPU version of every stage (``--smoke``);
- ``placement.py``: training stages re-targeted to other hardware (``--placement gpu``) without new hashes;
- ``run.py``: skip finished stages, resume crashed ones, run the rest as subprocesses;
- ``cli.py``: the ``pipeline`` and ``quickstart`` sub-commands.

Kept free of imports so that ``interplay-hf --help`` (which loads ``cli.py``) stays fast.
"""
