"""What ``train/rollouts.py`` takes from TRL's private side, checked against the installed TRL.

``DecodeLoopGRPOTrainer`` overrides ``GRPOTrainer._generate_single_turn`` (a private method) and reads trainer
and config attributes that TRL sets in its own ``__init__``. A TRL release that renames any of them would make
rollouts fail mid-training or, worse, silently fall back; this test fails first, with one message naming what
moved. The names are read from rollouts.py itself, so a new read there is covered without editing this file.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import interplay_hf.train.rollouts as rollouts

SOURCE = Path(rollouts.__file__)
FIX = ("; update interplay_hf/train/rollouts.py for this TRL (or pin trl to the range in pyproject.toml, which "
       "lists the versions the test suite ran with)")


def attribute_reads(class_name: str = "DecodeLoopGRPOTrainer") -> tuple[set[str], set[str]]:
    """(``self.X`` names, ``self.args.X`` names) the class reads, minus what the class defines itself."""
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    own = {t.id for n in cls.body if isinstance(n, ast.AnnAssign | ast.Assign)
           for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    own |= {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    def is_self_args(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "args" and isinstance(node.value, ast.Name)
                and node.value.id == "self")

    aliases = {t.id for n in ast.walk(cls) if isinstance(n, ast.Assign) and is_self_args(n.value)  # args = self.args
               for t in n.targets if isinstance(t, ast.Name)}
    on_self, on_args = set(), set()
    for node in ast.walk(cls):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            on_self.add(node.attr)
        if isinstance(node, ast.Attribute) and (is_self_args(node.value) or (
                isinstance(node.value, ast.Name) and node.value.id in aliases)):
            on_args.add(node.attr)
    return on_self - own, on_args


def test_the_attribute_reads_are_found():
    on_self, on_args = attribute_reads()
    assert {"_dist", "_tokenizer", "eos_token_ids", "accelerator", "args"} <= on_self
    assert "_rollout_calls" not in on_self and "decode_loop_refusal" not in on_self  # our own
    assert {"seed", "generation_kwargs"} <= on_args


def test_generate_single_turn_keeps_the_signature_we_override():
    from trl import GRPOTrainer

    theirs = inspect.signature(GRPOTrainer._generate_single_turn)
    ours = inspect.signature(rollouts.DecodeLoopGRPOTrainer._generate_single_turn)
    assert list(theirs.parameters.values()) == list(ours.parameters.values()), (
        f"trl's GRPOTrainer._generate_single_turn is now {theirs}, rollouts.py overrides {ours}" + FIX)


def test_trl_sets_every_attribute_rollouts_read(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=4, max_steps=1, report_to="none", use_cpu=True, bf16=False)
    trainer = rollouts.DecodeLoopGRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=lambda completions, **kw: [0.0] * len(completions), args=args,
        train_dataset=Dataset.from_list([{"prompt": "a"}, {"prompt": "b"}]),
        processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    on_self, on_args = attribute_reads()
    missing = sorted(f"self.{name}" for name in on_self if not hasattr(trainer, name))
    missing += sorted(f"self.args.{name}" for name in on_args if not hasattr(trainer.args, name))
    assert missing == [], "trl's GRPOTrainer no longer sets " + ", ".join(missing) + FIX


def test_unwrap_model_for_generation_takes_the_keywords_we_pass():
    from trl.models import unwrap_model_for_generation

    passed = {kw.arg for node in ast.walk(ast.parse(SOURCE.read_text(encoding="utf-8")))
              if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "unwrap_model_for_generation"
              for kw in node.keywords}
    accepted = set(inspect.signature(unwrap_model_for_generation).parameters)
    assert passed and passed <= accepted, (
        f"trl.models.unwrap_model_for_generation no longer takes {sorted(passed - accepted)}" + FIX)
