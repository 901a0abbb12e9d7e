"""A Qwen2 decode step written against the model's own weights: no per-module calls, shared-prompt attention.

One forward of a transformers model costs ~3.5 ms of Python at the mini models' sizes (module calls, hooks, mask
and cache bookkeeping), more than the arithmetic of a decode step. ``FusedQwen2`` runs the same computation as
``Qwen2ForCausalLM``'s forward for one new token per row as a short list of tensor ops over the model's parameters
(q/k/v and gate/up projections concatenated into one matrix each, built once per decode call so GRPO's updated
weights are read): RMSNorm, rotary position embeddings from a table the model's own rotary module computes, grouped
query attention through ``cascade`` (the prompt read once for its rows), SwiGLU, the final norm and the (possibly
tied) LM head. Its next-token log-probabilities are checked against the model's forward to 1e-4 in fp32
(tests/test_decoding_fast.py).

The prompt itself is prefilled by the model's own forward (one call per batch), whose cache hands the prefix
keys/values over. Anything this step does not implement (another architecture, sliding windows, a rope type
computed per sequence, dropout in training mode, quantised or adapter-wrapped weights) is refused by
``refusal`` and the caller keeps the transformers forward.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from interplay_hf.decoding.cascade import CascadeCache

STATIC_ROPE_TYPES = ("default", "linear")  # cos/sin depend on the position only: one table serves every step


def refusal(model: Any) -> str | None:
    """Why ``model`` cannot use the fused step (None: it can)."""
    if type(model).__name__ != "Qwen2ForCausalLM":
        return f"architecture {type(model).__name__}"
    config = model.config
    if getattr(config, "use_sliding_window", False) or any(t != "full_attention"
                                                           for t in getattr(config, "layer_types", None) or []):
        return "sliding-window attention"
    if config.hidden_act != "silu":
        return f"hidden_act {config.hidden_act}"
    rope = (getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {})
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in STATIC_ROPE_TYPES:
        return f"rope type {rope_type}"
    if model.training and config.attention_dropout:
        return "attention dropout in training mode"
    if getattr(model, "hf_quantizer", None) is not None or any(
            not p.is_floating_point() for p in model.parameters()):
        return "quantised weights"
    return None


class FusedQwen2:
    """The decode step of one ``Qwen2ForCausalLM`` over its current weights."""

    def __init__(self, model: Any, capacity: int) -> None:
        config = model.config
        self.model, self.eps = model, config.rms_norm_eps
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.scale = self.head_dim**-0.5
        inner = model.model
        self.embed, self.norm, self.lm_head = inner.embed_tokens.weight, inner.norm.weight, model.lm_head.weight
        self.layers = []
        for layer in inner.layers:
            attn, mlp = layer.self_attn, layer.mlp
            self.layers.append((
                layer.input_layernorm.weight,
                torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]),
                torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]),
                attn.o_proj.weight,
                layer.post_attention_layernorm.weight,
                torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
                mlp.down_proj.weight,
            ))
        positions = torch.arange(capacity, device=self.embed.device).unsqueeze(0)
        cos, sin = inner.rotary_emb(self.embed[:1].unsqueeze(0), positions)  # the model's own rotary module
        self.cos, self.sin = cos[0], sin[0]  # [capacity, head_dim]

    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, owner: torch.Tensor,
                suffix_capacity: int) -> tuple[torch.Tensor, CascadeCache]:
        """Last-position logits of each distinct prompt (the model's forward) and the cascade cache holding the
        prompts' keys/values once, with ``owner[b]`` the prompt of row b."""
        from transformers import DynamicCache

        position_ids = (attention_mask.cumsum(-1) - 1).clamp_(min=0)  # left pads at 0, as generate
        cache = DynamicCache(config=self.model.config)
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                            cache=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
        dtype = self.embed.dtype  # a prefill under autocast (a bf16 GRPO run) caches bf16: the step runs in the weights'
        keys = [layer.keys.to(dtype) for layer in cache.layers]
        values = [layer.values.to(dtype) for layer in cache.layers]
        return logits, CascadeCache(keys, values, attention_mask, owner, suffix_capacity)

    def _rms(self, hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Qwen2RMSNorm: normalised in float32, cast back, times the weight."""
        normed = F.rms_norm(hidden.float(), (hidden.shape[-1],), eps=self.eps).to(hidden.dtype)
        return weight * normed

    def step(self, tokens: torch.Tensor, positions: torch.Tensor, cache: CascadeCache) -> torch.Tensor:
        """Next-token logits ``[rows, vocab]`` after feeding ``tokens`` ``[rows]`` at ``positions`` ``[rows]``;
        the tokens' keys/values are appended to ``cache``."""
        rows, heads, kv_heads, head_dim = len(tokens), self.heads, self.kv_heads, self.head_dim
        cos, sin = self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)  # [rows, 1, d]
        half = head_dim // 2
        hidden = F.embedding(tokens, self.embed)
        for index, (norm_in, qkv_w, qkv_b, o_w, norm_post, gate_up_w, down_w) in enumerate(self.layers):
            qkv = F.linear(self._rms(hidden, norm_in), qkv_w, qkv_b).view(rows, heads + 2 * kv_heads, head_dim)
            rotated = qkv[:, : heads + kv_heads]
            rotated = rotated * cos + torch.cat([-rotated[..., half:], rotated[..., :half]], dim=-1) * sin
            query, key, value = rotated[:, :heads], rotated[:, heads:], qkv[:, heads + kv_heads :]
            cache.append(index, key, value)
            attended = cache.attend(index, query, self.scale).reshape(rows, heads * head_dim)
            hidden = hidden + F.linear(attended, o_w)
            gate, up = F.linear(self._rms(hidden, norm_post), gate_up_w).chunk(2, dim=-1)
            hidden = hidden + F.linear(F.silu(gate) * up, down_w)
        cache.advance()
        return F.linear(self._rms(hidden, self.norm), self.lm_head)
