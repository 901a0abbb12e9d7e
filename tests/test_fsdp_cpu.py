"""FSDP on CPU ranks: what accelerate can and cannot do, and the guard against silently independent processes.

accelerate enables FSDP only with an accelerator. On a CPU-only machine ``accelerate_configs/fsdp.yaml`` runs
a ``use_cpu: true`` recipe as plain DDP over gloo (nothing sharded) and a GPU recipe as independent
single-process runs; the training scripts refuse the latter. PyTorch's own FSDP2 (``fully_shard``) does run on
gloo, which the slow test checks with our model preset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.train.common import check_one_job


def test_processes_that_do_not_form_one_job_are_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="started 2 processes, but they do not form one distributed job"):
        check_one_job(SimpleNamespace(world_size=1))
    check_one_job(SimpleNamespace(world_size=2))  # DDP over gloo: one job
    monkeypatch.delenv("WORLD_SIZE")
    check_one_job(SimpleNamespace(world_size=1))  # a single process


FSDP2_SCRIPT = """
import sys, torch, torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from transformers import AutoModelForCausalLM
from interplay_hf.models import build_model
from interplay_hf.tokenizer import build_tokenizer

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
tokenizer = build_tokenizer(["Define x as 12; so x = 12. <answer> 12 </answer>"] * 50, vocab_size=300)
model = build_model("qwen2-300k", tokenizer=tokenizer, seed=0)
full_shape = tuple(model.get_input_embeddings().weight.shape)
mesh = init_device_mesh("cpu", (world,))
for layer in model.model.layers:
    fully_shard(layer, mesh=mesh)
fully_shard(model, mesh=mesh)
embedding = model.get_input_embeddings().weight
assert embedding.to_local().shape[0] <= -(-full_shape[0] // world) < full_shape[0]  # a shard per rank
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
ids = torch.randint(10, len(tokenizer), (2, 32), generator=torch.Generator().manual_seed(rank))
losses = []
for _ in range(4):
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    losses.append(loss.item())
state = {k: v.full_tensor() if hasattr(v, "full_tensor") else v for k, v in model.state_dict().items()}
if rank == 0:
    model.save_pretrained(sys.argv[1], state_dict=dict(state))  # it consumes the mapping
dist.barrier()
loaded = AutoModelForCausalLM.from_pretrained(sys.argv[1])
assert tuple(loaded.get_input_embeddings().weight.shape) == full_shape
key = next(k for k in state if k.endswith("embed_tokens.weight") or k == "lm_head.weight")  # tied: one is saved
assert torch.equal(loaded.get_input_embeddings().weight, state[key])
print(f"rank {rank}/{world} losses {losses[0]:.3f} -> {losses[-1]:.3f}", flush=True)
assert losses[-1] < losses[0]
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_pytorch_fsdp2_shards_and_trains_our_preset_on_two_gloo_ranks(tmp_path):
    script = tmp_path / "fsdp2.py"
    script.write_text(textwrap.dedent(FSDP2_SCRIPT), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script), str(tmp_path / "model")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.count("losses") == 2
