"""Training stages on TRL: SFT pre-/mid-training (``sft.py``) and GRPO (``grpo.py``), parsed from YAML recipes.

``config`` holds our recipe fields and the checks that run before a model loads, ``budgets`` turns token /
sample budgets into steps, ``callbacks`` the held-out evaluation, ``packing`` per-document attention in
packs, ``common`` the steps both scripts share, ``cli`` the ``interplay-hf tokenizer`` / ``train`` commands.
Importing this package loads no torch.
"""
