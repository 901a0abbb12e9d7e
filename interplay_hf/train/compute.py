"""Training compute of finished stages, in FLOPs, so that experiments can be compared at equal compute.

The paper compares mid-training + RL with RL alone at equal compute. Counting samples (documents vs prompts)
hides that an RL prompt costs generation, a reference forward and a backward over every rollout. Here each
stage's cost is the tokens its trainer processed (packed tokens for SFT; prompt + completion tokens of every
rollout for GRPO, TRL's ``num_tokens``) times the usual per-token
FLOPs of a dense transformer, 2N forward and 4N backward (Kaplan et al. 2020), N the parameters:

* SFT: forward + backward, 6N per token;
* GRPO: generation 2N (prefill and decoding, with a KV cache), policy forward + backward 6N, and the reference
  model's forward 2N when ``beta`` > 0; an old-policy forward 2N when rollouts are reused (``num_iterations``
  > 1). Attention's quadratic term and the held-out checks during training are left out (both small here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.inputs import loads_strict
from interplay_hf.models import safetensors_parameters
from interplay_hf.yaml_io import load_yaml_mapping

FORWARD = 2  # FLOPs per parameter per token
BACKWARD = 4
METHOD = ("FLOPs = per-token factor x parameters x tokens processed (TRL num_tokens); factor 6 for SFT, "
          "2 generation + 6 policy + 2 reference (beta > 0) + 2 old policy (num_iterations > 1) for GRPO")


@dataclass(frozen=True)
class StageCompute:
    stage: str
    kind: str  # "sft" or "grpo"
    parameters: int
    tokens: int
    flops_per_parameter_token: int
    flops: float


def _read_json(path: Path, what: str) -> dict:
    try:
        data = loads_strict(path.read_text(encoding="utf-8"), allow_nan=True)  # a logged NaN grad_norm is fine
    except FileNotFoundError:
        raise ConfigError(f"{path.parent}: no {path.name}; give the output folder of a finished training stage ({what})") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); re-run the stage that wrote it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}; re-run the stage that wrote it")
    return data


def _count(value: object, path: Path, field: str) -> int:
    """A count read from a Trainer file: a non-negative integer (a float with an integer value is one), else the
    file is corrupt and a FLOP count from it would be wrong (negative FLOPs, exit 0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{path}: {field} = {value!r} is not a non-negative integer; the file is corrupt, re-run "
                          "the stage that wrote it")
    return value


def _recipe(stage_dir: Path) -> dict:
    path = stage_dir / "recipe.yaml"
    if not path.is_file():
        raise ConfigError(f"{stage_dir}: no recipe.yaml; give the output folder of a finished training stage")
    return load_yaml_mapping(path, "stage recipe")


def flops_per_parameter_token(recipe: dict) -> tuple[str, int]:
    """(stage kind, FLOPs per parameter and processed token) from a stage's resolved recipe."""
    if "num_generations" not in recipe:
        return "sft", FORWARD + BACKWARD
    per_token = FORWARD + FORWARD + BACKWARD  # generation, then the policy's forward and backward
    if float(recipe.get("beta") or 0.0) > 0:
        per_token += FORWARD
    if int(recipe.get("num_iterations") or 1) > 1:
        per_token += FORWARD
    return "grpo", per_token


def processed_tokens(stage_dir: Path, recipe: dict, kind: str) -> int:
    """Tokens the trainer processed. GRPO: TRL's gathered ``num_tokens``. Packed SFT: optimizer steps x
    sequences per step x ``max_length`` (TRL's ``num_tokens`` counts one row per batch when the packed batch
    carries 2-D ``position_ids``); unpacked SFT: TRL's ``num_tokens`` (the attention mask's sum)."""
    state = _read_json(stage_dir / "trainer_state.json", "the Trainer writes trainer_state.json at the end")
    if kind == "sft" and recipe.get("packing"):
        results = _read_json(stage_dir / "train_results.json", "the Trainer writes train_results.json at the end")
        if "world_size" not in results:
            raise ConfigError(f"{stage_dir}/train_results.json: no world_size (a stage trained before it was "
                              "recorded); re-run the stage to count its compute")
        recipe_path = stage_dir / "recipe.yaml"
        per_step = (_count(recipe.get("per_device_train_batch_size"), recipe_path, "per_device_train_batch_size")
                    * _count(recipe.get("gradient_accumulation_steps") or 1, recipe_path, "gradient_accumulation_steps")
                    * _count(results["world_size"], stage_dir / "train_results.json", "world_size")
                    * _count(recipe.get("max_length"), recipe_path, "max_length"))
        return _count(state.get("global_step"), stage_dir / "trainer_state.json", "global_step") * per_step
    state_path = stage_dir / "trainer_state.json"
    history = state.get("log_history", [])
    if not isinstance(history, list) or not all(isinstance(entry, dict) for entry in history):
        raise ConfigError(f"{state_path}: log_history is not a list of entries; the file is corrupt, re-run the stage")
    tokens = [_count(entry["num_tokens"], state_path, "num_tokens") for entry in history if "num_tokens" in entry]
    if not tokens:
        raise ConfigError(f"{stage_dir}/trainer_state.json: no num_tokens logged; the compute cannot be counted")
    return max(tokens)


def stage_compute(stage_dir: str | Path) -> StageCompute:
    """The compute of one finished sft/grpo stage folder."""
    stage_dir = Path(stage_dir)
    recipe = _recipe(stage_dir)
    parameters = safetensors_parameters(stage_dir)
    if not parameters:
        raise ConfigError(f"{stage_dir}: no *.safetensors weights; give a finished training stage")
    kind, per_token = flops_per_parameter_token(recipe)
    tokens = processed_tokens(stage_dir, recipe, kind)
    return StageCompute(stage_dir.name, kind, parameters, tokens, per_token, float(per_token) * parameters * tokens)


def compute_record(stage_dirs: list[str | Path]) -> dict:
    """``compute.json``: each stage's tokens and FLOPs and their total (the stages of one training path)."""
    stages = [stage_compute(d) for d in stage_dirs]
    return {"method": METHOD, "stages": [asdict(s) for s in stages],
            "total_flops": sum(s.flops for s in stages)}
