"""GRPO rollouts with our decode loop (``decoding.loop``) in place of ``model.generate``.

TRL's hooks do not reach what makes rollouts slow on small models: ``generation_kwargs`` and
``cache_implementation`` tune ``generate`` but cannot make it prefill a prompt once for its ``num_generations``
samples, and ``use_transformers_continuous_batching`` schedules requests for GPU throughput, not CPU decode.
So this thin subclass overrides the one method that samples, ``_generate_single_turn``, and keeps TRL's
everything else (unwrapping, weight gathering, the completion format: ids up to and including the EOS).

The draw is the same law as TRL's (softmax(logits / T), top-p), taken by ``decoding.draw`` from a per-row
counter stream keyed by the run's seed, the step and the rank, so rollouts are reproducible. Settings the loop
does not implement (top-k, min-p, repetition penalty, extra ``generation_kwargs``, a cache implementation,
images, vLLM or continuous batching) fall back to TRL's own generation, with one log line saying why.
"""

from __future__ import annotations

import logging

from trl import GRPOTrainer

from interplay_hf.decoding.draw import sample_seed
from interplay_hf.decoding.loop import DecodeSettings, decode

logger = logging.getLogger(__name__)


class DecodeLoopGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose transformers rollouts use ``decoding.loop.decode``."""

    _rollout_calls = 0
    _fallback_logged = False

    def decode_loop_refusal(self, images=None, multimodal_fields=None) -> str | None:
        """Why this run's rollouts cannot use the decode loop (None: they can)."""
        args = self.args
        checks = {
            "use_vllm": self.use_vllm,
            "use_transformers_continuous_batching": self.use_transformers_continuous_batching,
            "top_k": self.top_k not in (None, 0),
            "min_p": self.min_p is not None,
            "repetition_penalty": self.repetition_penalty != 1.0,
            "generation_kwargs": bool(args.generation_kwargs),
            "cache_implementation": args.cache_implementation is not None,
            "images": images is not None or bool(multimodal_fields),
        }
        refused = [name for name, set_ in checks.items() if set_]
        return ", ".join(refused) or None

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        refusal = self.decode_loop_refusal(images, multimodal_fields)
        if refusal:
            if not self._fallback_logged:
                logger.warning("GRPO rollouts use TRL's generate: the decode loop does not implement %s", refusal)
                self._fallback_logged = True
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        import torch
        from trl.models import unwrap_model_for_generation

        self._rollout_calls += 1
        stream = f"grpo/{self.state.global_step}/{self._rollout_calls}/{self.accelerator.process_index}"
        seeds = [sample_seed(self.args.seed, stream, row) for row in range(len(prompt_ids))]
        settings = DecodeSettings(self.max_completion_length, self.temperature, self.top_p or 1.0,
                                  tuple(self.eos_token_ids), self._tokenizer.pad_token_id)
        with (
            unwrap_model_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as unwrapped_model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):
            completion_ids = decode(unwrapped_model, prompt_ids, seeds, settings)
        return completion_ids, None
