"""Sampling completions with a transformers model: batched, KV cache, left padding.

``HFSampler`` runs our decode loop (``decoding.loop``: shared prompt prefill, in-place KV cache, finished rows
leave the batch); with a multi-token stop string it calls ``model.generate`` with the same draw as a logits
processor. Both give the same samples in fp32 (tested).

Reproducibility is per *sample*, not per batch (``decoding.draw``): sample j of problem p draws its tokens from
a counter-based random stream keyed by ``(seed, p.id, j)`` and the step number. That is what lets evaluation
shard across processes, resume after a crash, and auto-size batches while staying bit-for-bit reproducible on
one device.

The vLLM backend (``vllm_backend.py``) implements the same ``Sampler`` interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interplay_hf.decoding.draw import CounterSampler, row_streams, sample_seed
from interplay_hf.decoding.loop import DecodeSettings, decode, left_pad
from interplay_hf.errors import ConfigError

# Batch caps when evaluation sizes its own batch: bigger batches stopped paying on a CPU (docs/benchmarks.md).
MAX_AUTO_BATCH = {"cpu": 256, "other": 512}


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


def bytes_per_row(model: Any, max_seq_len: int) -> int:
    """Memory one decode row needs, with headroom: its KV cache + fp64 sampling buffers + prefill activations."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    layers = cfg.num_hidden_layers
    kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    elem = next(model.parameters()).element_size()
    per_row = 2 * layers * kv_heads * head_dim * max_seq_len * elem  # keys + values
    per_row += cfg.vocab_size * 8 * 4  # float64 logits/probs/cdf in the sampler
    per_row += cfg.hidden_size * max_seq_len * elem * 4  # prefill activations (rough)
    return per_row


def free_bytes(device: Any) -> int:
    """Memory free for decoding on ``device`` now."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    import psutil

    return int(psutil.virtual_memory().available)


def auto_batch_size(model: Any, max_seq_len: int, device: Any) -> int:
    """Rows per decode batch that fit in free memory (60% of it). On CPU, throughput stops growing long before
    memory runs out, so the size is capped lower."""
    cap = MAX_AUTO_BATCH["other" if device.type == "cuda" else "cpu"]
    return max(1, min(cap, int(0.6 * free_bytes(device) / bytes_per_row(model, max_seq_len))))


def check_fits(model: Any, batch_size: int, prompt_len: int, max_new_tokens: int, free: int) -> None:
    """One line naming the largest batch size (or, when one row cannot fit, the largest ``max_new_tokens``) that
    fits in ``free`` bytes, before any compute."""
    per_row = bytes_per_row(model, prompt_len + max_new_tokens)
    if batch_size * per_row <= free:
        return
    gib = f"~{batch_size * per_row / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free"
    if per_row <= free:
        raise ConfigError(f"--batch-size {batch_size} does not fit in memory ({gib}); the largest that fits is "
                          f"{free // per_row}")
    fixed, per_position = bytes_per_row(model, 0), bytes_per_row(model, 1) - bytes_per_row(model, 0)
    fits = max(0, (free - fixed) // per_position - prompt_len)  # bytes_per_row is affine in the length
    raise ConfigError(f"--max-new-tokens {max_new_tokens}: one row of {prompt_len} prompt tokens does not fit in "
                      f"memory ({gib}); the largest that fits is {fits}")


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
        self._checked = False  # a given batch size is checked against free memory once, before any compute
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

    def generate(self, requests: Sequence[Request]) -> list[list[int]]:
        """Generated ids per request, in request order. Longest prompts first so an OOM shows early."""
        if not requests:
            return []
        longest = max(len(r.prompt_ids) for r in requests)
        if self.batch_size is None:
            self.batch_size = auto_batch_size(self.model, longest + self.max_new_tokens, self.device)
        elif not self._checked:
            check_fits(self.model, self.batch_size, longest, self.max_new_tokens, free_bytes(self.device))
            self._checked = True
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

    def _decode_batch(self, batch: Sequence[Request]) -> list[list[int]]:
        settings = DecodeSettings(self.max_new_tokens, self.temperature, self.top_p,
                                  tuple(self.stop.stop_token_ids + self.stop.keep_token_ids), self.stop.pad_token_id)
        return decode(self.model, [r.prompt_ids for r in batch], [r.seed for r in batch], settings)

    def _generate_with_hf(self, batch: Sequence[Request]) -> list[list[int]]:
        """``model.generate`` with the counter sampler as a logits processor (stop strings need its criteria)."""
        import torch
        from transformers import LogitsProcessorList

        input_ids, attention_mask = left_pad([r.prompt_ids for r in batch], self.stop.pad_token_id, self.device)
        width = input_ids.shape[1]
        seeds, greedy_rows, all_greedy = row_streams([r.seed for r in batch], self.temperature, self.device)
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
