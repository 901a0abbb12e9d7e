"""Per-sample seeded token draws: the same sample whatever the batch it is decoded in.

Sample j of problem p draws its tokens from a counter-based random stream keyed by ``(seed, p.id, j)`` and the
step number: inverse-CDF sampling of softmax(logits / T) (top-p optional) in float64 at the row's counter
uniform. So the same sample comes out whatever the batch size, the batch's other rows, the number of processes
or an OOM retry. Sampling is temperature + top-p only (no top-k), as the paper's vLLM sampling; HF's own
``do_sample`` would add ``top_k=50`` by default.
"""

from __future__ import annotations

import hashlib
import math

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _signed(x: int) -> int:
    x &= _MASK64
    return x - (1 << 64) if x >= 1 << 63 else x


def sample_seed(seed: int, problem_id: str, sample_index: int) -> int:
    """The 63-bit seed of one sample (independent of where and with what it is batched)."""
    digest = hashlib.sha256(f"{seed}/{problem_id}/{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def splitmix64(x: int) -> int:
    """Reference (pure Python) of the mixing used on tensors below."""
    z = x & _MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def uniform_reference(row_seed: int, step: int) -> float:
    return (splitmix64(row_seed + (step + 1) * _GOLDEN) >> 11) / float(1 << 53)


def counter_uniform(row_seeds, step: int):
    """U[0,1) per row for generation step ``step``: splitmix64(seed + (step+1)·φ) on int64 tensors (wrapping)."""
    import torch

    def lsr(z, s):  # logical shift right on int64
        return (z >> s) & ((1 << (64 - s)) - 1)

    z = row_seeds + _signed((step + 1) * _GOLDEN)
    z = (z ^ lsr(z, 30)) * _signed(_MIX1)
    z = (z ^ lsr(z, 27)) * _signed(_MIX2)
    z = z ^ lsr(z, 31)
    return lsr(z, 11).to(torch.float64) / float(1 << 53)


class CounterSampler:
    """Logits processor that draws one token per row from softmax(logits / T) (top-p optional).

    Used with greedy decoding: it returns 0 for the drawn token and -inf elsewhere, so generate's
    argmax picks exactly the drawn token. ``prompt_len`` is the padded prompt length of the batch;
    rows flagged in ``greedy_rows`` keep their argmax (greedy decodes share batches with samples).
    """

    def __init__(self, row_seeds, prompt_len: int, temperature: float, top_p: float = 1.0, greedy_rows=None) -> None:
        assert temperature > 0
        self.row_seeds, self.prompt_len = row_seeds, prompt_len
        self.temperature, self.top_p = temperature, top_p
        self.greedy_rows = greedy_rows

    def __call__(self, input_ids, scores):
        import torch

        tokens = draw_tokens(scores, self.row_seeds, input_ids.shape[1] - self.prompt_len, self.temperature,
                             self.top_p, self.greedy_rows)
        out = torch.full_like(scores, -math.inf)
        return out.scatter_(-1, tokens.unsqueeze(-1), 0.0)


def draw_tokens(scores, row_seeds, step: int, temperature: float, top_p: float = 1.0, greedy_rows=None):
    """The token each row draws at generation step ``step``: the inverse CDF of softmax(scores / T) (top-p
    optional) at the row's counter uniform, in float64 so that the draw does not depend on the batch;
    rows flagged in ``greedy_rows`` take their argmax."""
    import torch

    if top_p < 1.0:
        probs = torch.softmax(scores.to(torch.float64) / temperature, dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least the top token)
        drop = (sorted_probs.cumsum(-1) - sorted_probs) >= top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        cdf = torch.zeros_like(probs).scatter(-1, order, sorted_probs).cumsum_(-1)
    else:  # the unnormalised CDF of exp((s - max) / T), in place: one float64 buffer, five passes
        cdf = scores.to(torch.float64, copy=True)
        cdf.sub_(cdf.amax(-1, keepdim=True)).mul_(1.0 / temperature).exp_()
        torch.cumsum(cdf, -1, out=cdf)
    u = counter_uniform(row_seeds.to(scores.device), step).to(cdf.device)
    target = (u * cdf[:, -1]).unsqueeze(-1)
    tokens = torch.searchsorted(cdf, target, right=True).clamp_(max=scores.shape[-1] - 1).squeeze(-1)
    if greedy_rows is not None:
        tokens = torch.where(greedy_rows.to(tokens.device), scores.argmax(-1), tokens)
    return tokens


def row_streams(seeds, temperature: float, device):
    """(row seeds, greedy-row flags or None, all greedy?) of a batch: a row with seed None, or any row at temperature
    0, decodes greedily."""
    import torch

    greedy = [seed is None or temperature <= 0 for seed in seeds]
    row_seeds = torch.tensor([seed or 0 for seed in seeds], dtype=torch.int64, device=device)
    return row_seeds, (torch.tensor(greedy, device=device) if any(greedy) else None), all(greedy)
