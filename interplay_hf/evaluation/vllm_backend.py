"""vLLM sampling backend (``--backend vllm``): the same ``generate(requests) -> token ids`` as ``HFSampler``.

Every sample is its own request with its own seed (``SamplingParams(seed=...)``), so samples are
reproducible whatever vLLM batches together; prefix caching makes the n copies of a prompt cheap.
Token ids come back raw and are cut/decoded by the same code as the HF backend, so results.json has
the same meaning. vLLM is imported lazily and only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.sampling import Request, StopConfig


def require_vllm():
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--backend vllm: vLLM is not installed; `pip install 'interplay-hf[vllm]'` on a CUDA machine, "
            "or use --backend hf"
        ) from None
    return vllm


class VLLMSampler:
    backend = "vllm"

    def __init__(self, model_path: str, tokenizer_path: str, stop: StopConfig, max_new_tokens: int,
                 temperature: float, top_p: float, seed: int, dtype: str = "auto",
                 gpu_memory_utilization: float = 0.85, tensor_parallel_size: int = 1) -> None:
        vllm = require_vllm()
        self.stop, self.max_new_tokens, self.temperature, self.top_p = stop, max_new_tokens, temperature, top_p
        self.batch_size = None  # vLLM schedules its own batches
        self.llm = vllm.LLM(
            model=model_path,
            tokenizer=tokenizer_path,
            dtype=dtype,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=True,
        )

    def _params(self, request: Request):
        from vllm import SamplingParams

        sampled = request.seed is not None and self.temperature > 0
        return SamplingParams(
            n=1,
            temperature=self.temperature if sampled else 0.0,
            top_p=self.top_p if sampled else 1.0,
            seed=request.seed if sampled else None,
            max_tokens=self.max_new_tokens,
            stop_token_ids=self.stop.stop_token_ids + self.stop.keep_token_ids,
            stop=[self.stop.stop_string] if self.stop.stop_string else None,
            include_stop_str_in_output=True,
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
        )

    def generate(self, requests: Sequence[Request]) -> list[list[int]]:
        from vllm.inputs import TokensPrompt

        if not requests:
            return []
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=r.prompt_ids) for r in requests],
            [self._params(r) for r in requests],
            use_tqdm=False,
        )
        return [list(o.outputs[0].token_ids) for o in outputs]
