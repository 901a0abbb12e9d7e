"""Decoding shared by evaluation and GRPO rollouts: per-sample seeded draws (``draw``), an in-place KV cache
(``kv_cache``) and the decode loop (``loop``)."""
