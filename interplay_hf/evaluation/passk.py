"""pass@k estimators and the small parsers for k lists and op ranges (pure Python, no torch).

Two estimators, because the paper uses both (docs/evaluation.md §3):

* **unbiased** (Chen et al. 2021): from ``n`` samples of which ``c`` are correct,
  ``pass@k = 1 - C(n-c, k) / C(n, k)``. Computed as a product, never with huge binomials:
  ``C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)``.
* **first-k** (the official process-verified aggregation): a problem passes at k when one of its
  *first* k samples (in sample order) is correct, i.e. ``first_rank < k`` with ``first_rank`` the
  0-based index of the first correct sample. Sample order is fixed by the per-sample seeds, so the
  number is reproducible, but noisier than the unbiased estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from interplay_hf.errors import ConfigError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct out of ``n`` samples (requires 1 ≤ k ≤ n)."""
    assert 0 <= c <= n and 1 <= k <= n, (n, c, k)
    if n - c < k:  # every k-subset contains a correct sample
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def first_k_pass(first_rank: int | None, k: int) -> bool:
    """Official first-k pass: one of the first ``k`` samples is correct (``first_rank`` is 0-based, None = never)."""
    return first_rank is not None and first_rank < k


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def default_k_list(n: int) -> list[int]:
    """1, 2, 4, … up to n, plus n itself (the paper reports k = 1, 2, 4, …, 128)."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def parse_int_list(value: str | int | Sequence[int] | None, field: str) -> list[int] | None:
    """``"1,8,32"`` / ``"2-10,12"`` / ``[1, 8]`` / ``5`` → sorted unique ints; None and "" stay None."""
    if value is None or value == "" or value == "auto":
        return None
    if isinstance(value, int):
        return [value]
    if not isinstance(value, str):
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise ConfigError(f"{field}: expected integers, got {value!r}") from None
    out: set[int] = set()
    for part in value.replace(" ", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            lo_i, hi_i = int(lo), int(hi or lo)
        except ValueError:
            raise ConfigError(f"{field}: cannot parse {part!r}; write integers and ranges like '1,8,32' or '11-14'") from None
        if hi_i < lo_i:
            raise ConfigError(f"{field}: range {part!r} is empty (write low-high, e.g. 11-14)")
        out.update(range(lo_i, hi_i + 1))
    return sorted(out)


def parse_regimes(value: str | dict | None) -> dict[str, list[int]]:
    """``"ID=2-10,OOD-edge=11-14"`` or ``{"ID": [2, 10]}`` → ``{"ID": [2, 10], ...}`` (inclusive op ranges)."""
    if value is None or value == "":
        return dict(DEFAULT_REGIMES)
    if isinstance(value, dict):
        items = list(value.items())
    else:
        items = []
        for part in value.replace(" ", "").split(","):
            if not part:
                continue
            if "=" not in part:
                raise ConfigError(f"--regimes: {part!r} lacks '='; write e.g. 'ID=2-10,OOD-edge=11-14,OOD-hard=15-20'")
            name, rng = part.split("=", 1)
            lo, _, hi = rng.partition("-")
            items.append((name, [lo, hi or lo]))
    regimes: dict[str, list[int]] = {}
    for name, rng in items:
        try:
            lo, hi = (int(rng[0]), int(rng[1])) if not isinstance(rng, int) else (rng, rng)
        except (TypeError, ValueError, IndexError):
            raise ConfigError(f"--regimes: bad op range {rng!r} for regime {name!r}; write low-high") from None
        if hi < lo:
            raise ConfigError(f"--regimes: empty op range {lo}-{hi} for regime {name!r}")
        regimes[str(name)] = [lo, hi]
    return regimes


def regime_of(op: int, regimes: dict[str, list[int]]) -> str | None:
    """The first regime whose inclusive op range holds ``op`` (None when none does)."""
    for name, (lo, hi) in regimes.items():
        if lo <= op <= hi:
            return name
    return None


# docs/evaluation.md: ID op 2-10, OOD-edge 11-14, OOD-hard 15-20.
DEFAULT_REGIMES: dict[str, list[int]] = {"ID": [2, 10], "OOD-edge": [11, 14], "OOD-hard": [15, 20]}
