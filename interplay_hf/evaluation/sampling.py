"""Sampling completions with a transformers model: batched, KV cache, left padding.

``HFSampler`` runs its own decode loop over the model's forward (the draw is taken from the last logits, and a
row that stops leaves the batch with its cache rows); with a multi-token stop string it calls
``model.generate`` with the same draw as a logits processor. Both give the same samples in fp32 (tested).

Reproducibility is per *sample*, not per batch: sample j of problem p draws its tokens from a
counter-based random stream keyed by ``(seed, p.id, j)`` and the step number (inverse-CDF sampling
inside a logits processor, then greedy selection of the drawn token). So the same sample comes out
whatever the batch size, the batch's other rows, the number of processes or an OOM retry — which is
what lets evaluation shard across processes, resume after a crash, and auto-size batches while staying
bit-for-bit reproducible on one device. Sampling is temperature + top-p only (no top-k), as the
paper's vLLM sampling: note that HF's own ``do_sample`` would add ``top_k=50`` by default.

The vLLM backend (``vllm_backend.py``) implements the same ``Sampler`` interface.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
# CPU: with finished rows leaving the batch, 256 rows gave 1.13x the tokens per CPU second of 64 (quickstart model)
MAX_AUTO_BATCH = {"cpu": 256, "other": 512}


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

    logits = scores.to(torch.float64) / temperature
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least the top token)
        drop = (sorted_probs.cumsum(-1) - sorted_probs) >= top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    cdf = probs.cumsum(-1)
    u = counter_uniform(row_seeds.to(scores.device), step).to(cdf.device)
    target = (u * cdf[:, -1]).unsqueeze(-1)
    tokens = torch.searchsorted(cdf, target, right=True).clamp_(max=scores.shape[-1] - 1).squeeze(-1)
    if greedy_rows is not None:
        tokens = torch.where(greedy_rows.to(tokens.device), scores.argmax(-1), tokens)
    return tokens


@dataclass
class Request:
    """One sequence to generate: prompt token ids and its sample seed (None = greedy)."""

    prompt_ids: list[int]
    seed: int | None


@dataclass
class StopConfig:
    """How completions end: token ids that stop generation, and a stop string for multi-token stops."""

    stop_token_ids: list[int]  # eos-like ids: cut, not kept in the text
    keep_token_ids: list[int]  # stop ids kept in the text (the `</answer>` token)
    stop_string: str | None  # cut after this string (when it is not a single token)
    pad_token_id: int


def stop_config(tokenizer: Any, model_config: Any, stop: str, generation_config: Any = None) -> StopConfig:
    """Stop at eos (tokenizer's, model config's and saved generation config's: chat models list several) and at
    ``stop`` (one token id when it is one, else a stop string)."""
    eos: list[int] = []
    for value in (getattr(tokenizer, "eos_token_id", None), getattr(model_config, "eos_token_id", None),
                  getattr(generation_config, "eos_token_id", None)):
        for token_id in value if isinstance(value, (list, tuple)) else [value]:
            if token_id is not None and token_id not in eos:
                eos.append(int(token_id))
    keep: list[int] = []
    stop_string: str | None = stop or None
    if stop:
        ids = tokenizer.encode(stop, add_special_tokens=False)
        if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
            keep, stop_string = [ids[0]], None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos[0] if eos else 0)
    return StopConfig(eos, keep, stop_string, int(pad))


def cut_completion(ids: Sequence[int], stop: StopConfig) -> tuple[list[int], bool]:
    """Generated ids up to the first stop (keeping a `</answer>` token); second value: did it stop."""
    for i, token_id in enumerate(ids):
        if token_id in stop.keep_token_ids:
            return list(ids[: i + 1]), True
        if token_id in stop.stop_token_ids:
            return list(ids[:i]), True
    return list(ids), False


def decode_completion(ids: Sequence[int], tokenizer: Any, stop: StopConfig) -> tuple[str, int, bool]:
    """(completion text, generated token count, stopped) — special tokens kept (`<answer>` is one)."""
    kept, stopped = cut_completion(ids, stop)
    text = tokenizer.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    if stop.stop_string and stop.stop_string in text:
        text = text[: text.index(stop.stop_string) + len(stop.stop_string)]
        stopped = True
    return text, len(kept), stopped


def auto_batch_size(model: Any, max_seq_len: int, device: Any) -> int:
    """Rows per generate call that fit in free memory: KV cache + fp64 sampling buffers per row, with headroom.

    On CPU, throughput stops growing long before memory runs out, so the size is capped lower.
    """
    import torch

    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    layers = cfg.num_hidden_layers
    kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    elem = next(model.parameters()).element_size()
    per_row = 2 * layers * kv_heads * head_dim * max_seq_len * elem  # keys + values
    per_row += cfg.vocab_size * 8 * 4  # float64 logits/probs/cdf in the sampler
    per_row += cfg.hidden_size * max_seq_len * elem * 4  # prefill activations (rough)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cap = MAX_AUTO_BATCH["other"]
    else:
        import psutil

        free = psutil.virtual_memory().available
        cap = MAX_AUTO_BATCH["cpu"]
    return max(1, min(cap, int(0.6 * free / per_row)))


def _is_oom(err: BaseException) -> bool:
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


class HFSampler:
    """Batched ``model.generate`` over ``Request``s; outputs are generated token ids (stop-cut later)."""

    backend = "hf"

    def __init__(self, model: Any, tokenizer: Any, stop: StopConfig, max_new_tokens: int, temperature: float,
                 top_p: float, batch_size: int | None = None, decode_loop: bool = True) -> None:
        from transformers import GenerationConfig

        self.model, self.tokenizer, self.stop = model, tokenizer, stop
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        self.device = model.device
        self.batch_size = batch_size
        self.decode_loop = decode_loop  # False: model.generate for every batch (always used with a stop string)
        # Evaluation owns the sampling settings: a model's saved generation_config (e.g. repetition_penalty
        # of an instruct model) must not leak in, so generate() sees a fresh config only.
        model.generation_config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=stop.stop_token_ids + stop.keep_token_ids,
            pad_token_id=stop.pad_token_id,
            stop_strings=[stop.stop_string] if stop.stop_string else None,
        )

    def _max_len(self, requests: Sequence[Request]) -> int:
        return max(len(r.prompt_ids) for r in requests) + self.max_new_tokens

    def generate(self, requests: Sequence[Request]) -> list[list[int]]:
        """Generated ids per request, in request order. Longest prompts first so an OOM shows early."""
        if not requests:
            return []
        if self.batch_size is None:
            self.batch_size = auto_batch_size(self.model, self._max_len(requests), self.device)
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].prompt_ids))
        out: list[list[int] | None] = [None] * len(requests)
        start = 0
        while start < len(order):
            idx = order[start : start + self.batch_size]
            try:
                generated = self._generate_batch([requests[i] for i in idx])
            except RuntimeError as err:  # halve and retry: per-sample seeds make the result identical
                if not _is_oom(err) or self.batch_size == 1:
                    raise
                import torch

                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                self.batch_size = max(1, self.batch_size // 2)
                continue
            for i, ids in zip(idx, generated):
                out[i] = ids
            start += len(idx)
        return out  # type: ignore[return-value]

    def _generate_batch(self, batch: Sequence[Request]) -> list[list[int]]:
        if self.decode_loop and not self.stop.stop_string:
            return self._decode_batch(batch)
        return self._generate_with_hf(batch)

    def _padded(self, batch: Sequence[Request]):
        """Left-padded input ids, attention mask and sample seeds/greedy flags of a batch, on the model's device."""
        import torch

        width = max(len(r.prompt_ids) for r in batch)
        pad = self.stop.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in batch])
        attention_mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in batch])
        greedy = [r.seed is None or self.temperature <= 0 for r in batch]
        seeds = torch.tensor([r.seed or 0 for r in batch], dtype=torch.int64, device=self.device)
        greedy_rows = torch.tensor(greedy, device=self.device) if any(greedy) else None
        return input_ids.to(self.device), attention_mask.to(self.device), seeds, greedy_rows, all(greedy)

    def _decode_batch(self, batch: Sequence[Request]) -> list[list[int]]:
        """Our own decode loop: the step's token is drawn from the last logits directly (no logits processors or
        stopping criteria), and a row leaves the batch, with its KV cache rows, as soon as it stops. The forward
        passes, positions and draws are the ones ``generate`` makes, so the samples are the same."""
        import torch
        from transformers import DynamicCache

        input_ids, attention_mask, seeds, greedy_rows, all_greedy = self._padded(batch)
        position_ids = (attention_mask.cumsum(-1) - 1).clamp_(min=0)  # left pads at 0, as generate
        stop_ids = torch.tensor(self.stop.stop_token_ids + self.stop.keep_token_ids, device=self.device)
        cache = DynamicCache(config=self.model.config)
        rows = list(range(len(batch)))  # batch position -> request
        out: list[list[int]] = [[] for _ in batch]
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                cache=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
            for step in range(self.max_new_tokens):
                if all_greedy:
                    tokens = logits.argmax(-1)
                else:
                    tokens = draw_tokens(logits, seeds, step, self.temperature, self.top_p, greedy_rows)
                for row, token in zip(rows, tokens.tolist()):
                    out[row].append(token)
                if step == self.max_new_tokens - 1:
                    break
                done = torch.isin(tokens, stop_ids)
                if done.any():
                    keep = (~done).nonzero().squeeze(-1)
                    if keep.numel() == 0:
                        break
                    cache.batch_select_indices(keep)
                    rows = [rows[i] for i in keep.tolist()]
                    tokens, seeds, attention_mask, position_ids = (
                        tokens[keep], seeds[keep], attention_mask[keep], position_ids[keep])
                    greedy_rows = None if greedy_rows is None else greedy_rows[keep]
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(rows), 1)], dim=-1)
                position_ids = position_ids[:, -1:] + 1
                logits = self.model(input_ids=tokens.unsqueeze(-1), attention_mask=attention_mask,
                                    position_ids=position_ids, cache=cache, use_cache=True).logits[:, -1]
        return out

    def _generate_with_hf(self, batch: Sequence[Request]) -> list[list[int]]:
        """``model.generate`` with the counter sampler as a logits processor (stop strings need its criteria)."""
        import torch
        from transformers import LogitsProcessorList

        input_ids, attention_mask, seeds, greedy_rows, all_greedy = self._padded(batch)
        width = input_ids.shape[1]
        processors = LogitsProcessorList()
        if not all_greedy:
            processors.append(CounterSampler(seeds, width, self.temperature, self.top_p, greedy_rows))
        kwargs = {"tokenizer": self.tokenizer} if self.stop.stop_string else {}
        with torch.inference_mode():
            sequences = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, logits_processor=processors, **kwargs
            )
        return [row[width:].tolist() for row in sequences.cpu()]


def build_requests(prompt_ids: Sequence[list[int]], problem_ids: Sequence[str], n: int, seed: int) -> list[Request]:
    """n seeded requests per prompt, problem-major (sample j of problem p at position p·n + j)."""
    return [
        Request(list(ids), sample_seed(seed, pid, j)) for ids, pid in zip(prompt_ids, problem_ids) for j in range(n)
    ]
