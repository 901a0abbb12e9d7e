"""TRL reward functions for GRPO, looked up by name from a recipe (``reward_funcs: [mixed]``).

Each function has TRL's signature ``fn(completions, **kwargs) -> list[float]``: TRL passes the dataset
columns as keyword lists (we read ``solution``, ``gold_graph`` and ``answer``) plus ``prompts``,
``completion_ids``, ``trainer_state`` and logging hooks, which are ignored. Completions may be plain
text (a continuation of the prompt, e.g. `` Define … </solution> <answer> 6``) or conversational
(a list of messages; the assistant content is scored). A reward never raises on model output and
always returns a float in [0, 1]; :func:`check_reward_columns` checks at start-up that the data holds the
gold a reward reads, and an exception from our own code is not swallowed (it would train on silent zeros).

| name | value (official semantics, docs/verifier.md §5) |
|---|---|
| ``outcome`` | 1 if the answer string equals the gold (``<answer>`` tag, else ``Answer: N``; outcome-only RL) |
| ``process`` | R_pv = max(0, 1 − penalty/N) |
| ``mixed`` | α·R_out + (1−α)·R_pv, **0 when the answer is wrong** (``gated: false``: plain blend); α = 0.2 |
| ``mixed_ungated`` | ``mixed`` with ``gated: false`` |
| ``strict`` | 1 iff the answer is right and the process has no penalty (extra steps count), else 0 |
| ``format`` | 1 if at least one ``Define … as X;`` step parses and the ``<answer>`` tag holds a number |

Configured functions are :func:`functools.partial` objects updated with the wrapped function's
metadata, so they pickle and TRL logs them as ``rewards/mixed_reward/mean`` etc. Option names
(``alpha``, ``gated``, ``answer_colon``, ``verify_mode``, ``max_chars``) must not be dataset column
names, since TRL passes columns as keyword arguments too (hence ``verify_mode``, not ``mode``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.verify import (
    DEFAULT_MAX_CHARS,
    MODES,
    completion_text,
    extract_answer,
    outcome_rl,
    parse_solution,
    resolve_gold,
    verify,
)

RewardFunc = Callable[..., list[float]]
DEFAULT_ALPHA = 0.2
_VERIFY_CACHE_SIZE = 2048
_VERIFY_CACHE_CHARS = 16_384  # longer completions are verified without memoisation (bounded memory)

_COMMON_OPTIONS = {"verify_mode", "max_chars"}
REWARD_OPTIONS: dict[str, frozenset[str]] = {
    "outcome": frozenset(_COMMON_OPTIONS | {"answer_colon"}),
    "process": frozenset(_COMMON_OPTIONS),
    "mixed": frozenset(_COMMON_OPTIONS | {"alpha", "gated"}),
    "mixed_ungated": frozenset(_COMMON_OPTIONS | {"alpha"}),
    "strict": frozenset(_COMMON_OPTIONS),
    "format": frozenset({"max_chars"}),
}


# --------------------------------------------------------------------------------------------------
# Gold columns and (cached) verification


def _column(kwargs: Mapping[str, Any], names: Sequence[str], index: int) -> Any:
    for name in names:
        values = kwargs.get(name)
        if isinstance(values, (list, tuple)) and index < len(values):
            return values[index]
    return None


def _gold_of(kwargs: Mapping[str, Any], index: int) -> tuple[Any, Any, Any]:
    solution = _column(kwargs, ("solution", "gold_solution"), index)
    graph = _column(kwargs, ("gold_graph",), index)
    answer = _column(kwargs, ("answer", "gold_answer"), index)
    return solution, graph, answer


@functools.lru_cache(maxsize=_VERIFY_CACHE_SIZE)
def _verify_cached(text: str, solution: Any, graph: Any, answer: Any, mode: str, max_chars: int | None):
    return verify(text, gold_solution=solution, gold_graph=graph, gold_answer=answer, mode=mode, max_chars=max_chars)


def _verify_row(completion: Any, kwargs: Mapping[str, Any], index: int, mode: str, max_chars: int | None):
    """Verify one completion; memoised so that several reward functions on one batch parse it once."""
    text = completion_text(completion)
    solution, graph, answer = _gold_of(kwargs, index)
    if len(text) <= _VERIFY_CACHE_CHARS and not isinstance(graph, (dict, list)):
        try:
            return _verify_cached(text, solution, graph, answer, mode, max_chars)
        except TypeError:  # some other unhashable gold value: verify without the cache
            pass
    return verify(text, gold_solution=solution, gold_graph=graph, gold_answer=answer, mode=mode, max_chars=max_chars)


def _score_all(completions: Sequence[Any], score: Callable[[Any, int], float]) -> list[float]:
    """Apply ``score`` to each completion, clamped to [0, 1]. The verifier is total on model output, so an
    exception here is a bug (or unusable gold) and must stop the run, not train on silent zeros."""
    rewards: list[float] = []
    for index, completion in enumerate(completions or ()):
        value = float(score(completion, index))
        rewards.append(min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0)
    return rewards


# --------------------------------------------------------------------------------------------------
# The reward functions (module level, so they pickle; TRL logs them by __name__)


def outcome_reward(
    completions: Sequence[Any],
    answer_colon: bool = True,
    verify_mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **kwargs: Any,
) -> list[float]:
    """1 if the extracted answer string equals the gold answer (official outcome-only RL reward)."""

    def score(completion: Any, index: int) -> float:
        text = completion_text(completion)
        if max_chars is not None:
            text = text[:max_chars]
        gold = resolve_gold(*_gold_of(kwargs, index), mode=verify_mode)
        pred = extract_answer(text, answer_colon=answer_colon, exact_lower=verify_mode == "compat")
        return 1.0 if outcome_rl(pred, gold.answer) else 0.0

    return _score_all(completions, score)


def process_reward(
    completions: Sequence[Any],
    verify_mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **kwargs: Any,
) -> list[float]:
    """R_pv = max(0, 1 − penalty/N) against the gold graph (R_out when no gold process exists)."""
    return _score_all(
        completions,
        lambda c, i: _verify_row(c, kwargs, i, verify_mode, max_chars).process_score,
    )


def mixed_reward(
    completions: Sequence[Any],
    alpha: float = DEFAULT_ALPHA,
    gated: bool = True,
    verify_mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **kwargs: Any,
) -> list[float]:
    """α·R_out + (1−α)·R_pv, zero when the answer is wrong unless ``gated=False`` (paper: α = 0.2)."""
    return _score_all(
        completions,
        lambda c, i: _verify_row(c, kwargs, i, verify_mode, max_chars).mixed_reward(alpha, gated),
    )


def mixed_ungated_reward(
    completions: Sequence[Any],
    alpha: float = DEFAULT_ALPHA,
    verify_mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **kwargs: Any,
) -> list[float]:
    """The plain blend α·R_out + (1−α)·R_pv (no outcome gate)."""
    return _score_all(
        completions,
        lambda c, i: _verify_row(c, kwargs, i, verify_mode, max_chars).mixed_reward(alpha, gated=False),
    )


def strict_reward(
    completions: Sequence[Any],
    verify_mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **kwargs: Any,
) -> list[float]:
    """1 iff the answer is right and the process is perfect, extra steps included (``_process_strict``)."""
    return _score_all(
        completions,
        lambda c, i: _verify_row(c, kwargs, i, verify_mode, max_chars).strict_reward(),
    )


def format_reward(completions: Sequence[Any], max_chars: int | None = DEFAULT_MAX_CHARS, **kwargs: Any) -> list[float]:
    """1 if the completion has at least one parsable step and a numeric ``<answer>``; needs no gold."""

    def score(completion: Any, index: int) -> float:
        text = completion_text(completion)
        if max_chars is not None:
            text = text[:max_chars]
        pred = extract_answer(text)
        if not pred or not _looks_numeric(pred):
            return 0.0
        return 1.0 if parse_solution(text, max_chars=None).steps else 0.0

    return _score_all(completions, score)


def _looks_numeric(answer: str) -> bool:
    body = answer.rstrip(".").lstrip("+-")
    whole, _, frac = body.partition(".")
    return bool(whole or frac) and (not whole or whole.isdecimal()) and (not frac or frac.isdecimal())


# The gold each reward reads (any one column of a group will do): a process reward without a gold solution
# or graph would silently equal the outcome reward, and an outcome reward without gold would be all zeros.
_PROCESS_GOLD = ("solution", "gold_solution", "gold_graph")
_ANSWER_GOLD = ("answer", "gold_answer", *_PROCESS_GOLD)
GOLD_COLUMNS: dict[str, tuple[str, ...]] = {
    "outcome": _ANSWER_GOLD,
    "process": _PROCESS_GOLD,
    "mixed": _PROCESS_GOLD,
    "mixed_ungated": _PROCESS_GOLD,
    "strict": _PROCESS_GOLD,
    "format": (),
}

REWARD_FUNCS: dict[str, RewardFunc] = {
    "outcome": outcome_reward,
    "process": process_reward,
    "mixed": mixed_reward,
    "mixed_ungated": mixed_ungated_reward,
    "strict": strict_reward,
    "format": format_reward,
}


# --------------------------------------------------------------------------------------------------
# Recipe wiring


def _valid_names() -> str:
    return ", ".join(REWARD_FUNCS)


def _check_option(name: str, key: str, value: Any) -> None:
    where = f"reward_kwargs.{name}.{key}"
    if key == "alpha":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"{where} must be a number in [0, 1] (the outcome weight α), got {value!r}.")
    elif key in ("gated", "answer_colon"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}.")
    elif key == "verify_mode":
        if value not in MODES:
            raise ConfigError(f"{where} must be one of {', '.join(MODES)}, got {value!r}.")
    elif key == "max_chars":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(f"{where} must be a positive integer (or null for no limit), got {value!r}.")


def validate_reward_config(
    names: Sequence[str] | str | None,
    kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Check reward names and options before any model loads; raise :class:`ConfigError` naming the fix."""
    if isinstance(names, str):
        names = [names]
    if not names:
        raise ConfigError(f"reward_funcs is empty: list at least one reward, from: {_valid_names()}.")
    for name in names:
        if not isinstance(name, str) or name not in REWARD_FUNCS:
            raise ConfigError(f"reward_funcs: unknown reward {name!r}; valid rewards are: {_valid_names()}.")
    if kwargs is None:
        return
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"reward_kwargs must be a mapping of reward name -> options, got {type(kwargs).__name__}.")
    for name, options in kwargs.items():
        if name not in REWARD_FUNCS:
            raise ConfigError(f"reward_kwargs: unknown reward {name!r}; valid rewards are: {_valid_names()}.")
        if name not in names:
            raise ConfigError(
                f"reward_kwargs.{name} is set but {name!r} is not in reward_funcs {list(names)}: "
                f"add it to reward_funcs or remove its options."
            )
        if options is None:
            continue
        if not isinstance(options, Mapping):
            raise ConfigError(f"reward_kwargs.{name} must be a mapping of options, got {options!r}.")
        allowed = REWARD_OPTIONS[name]
        for key, value in options.items():
            if key not in allowed:
                raise ConfigError(
                    f"reward_kwargs.{name}: unknown option {key!r}; valid options for {name!r} are: "
                    f"{', '.join(sorted(allowed))}."
                )
            _check_option(name, key, value)


def check_reward_columns(names: Sequence[str] | str, columns: Sequence[str], where: str = "the dataset") -> None:
    """Raise :class:`ConfigError` when a reward's gold column is missing from the training data (checked at
    start-up, before a model loads, instead of training on all-zero or outcome-only rewards)."""
    for name in [names] if isinstance(names, str) else names:
        wanted = GOLD_COLUMNS.get(name, ())
        if wanted and not set(wanted) & set(columns):
            raise ConfigError(
                f"reward_funcs: {name!r} needs a gold column ({' or '.join(wanted)}) but {where} "
                f"has only {sorted(columns)}; build the data with `interplay-hf data build` (it writes solution, "
                f"answer and gold_graph) or use reward_funcs: [format]."
            )


def get_reward_func(name: str, **options: Any) -> RewardFunc:
    """One configured reward function (validated), named like the function it wraps."""
    validate_reward_config([name], {name: options} if options else None)
    func = REWARD_FUNCS[name]
    if not options:
        return func
    configured = functools.partial(func, **options)
    functools.update_wrapper(configured, func)
    return configured


def get_reward_funcs(
    names: Sequence[str] | str,
    kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[RewardFunc]:
    """The reward functions for a recipe's ``reward_funcs`` and ``reward_kwargs``."""
    validate_reward_config(names, kwargs)
    if isinstance(names, str):
        names = [names]
    kwargs = kwargs or {}
    return [get_reward_func(name, **dict(kwargs.get(name) or {})) for name in names]
