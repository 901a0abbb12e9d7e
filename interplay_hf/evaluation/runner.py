"""Evaluate a model: sample n completions per problem, verify them, write results.json / results.md / plots.

    accelerate launch --config_file accelerate_configs/cpu.yaml -m interplay_hf.evaluation.run \\
        --model runs/x/rl --data recipes/.../eval.yaml --n 128 --k 1,8,32,128 --output-dir runs/x/eval

``interplay-hf eval`` takes the same flags (in one process); ``run.py`` is the launched entry point. The work, top to bottom: config → eval set →
shard (problem p goes to rank p mod world) → model + sampler → per chunk of problems: sample, greedy,
verify, append to ``.partial/`` → barrier → the main process merges the per-problem records in problem
order, adds the chance baseline, aggregates and writes the outputs atomically. Per-sample seeds make
the numbers independent of the process count and batch size; ``.partial/`` makes an interrupted run
resumable (same settings → finished problems are not sampled again).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from interplay_hf.atomic_io import append_jsonl, read_jsonl, write_json, write_jsonl
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.config import EvalConfig, add_dataclass_arguments, config_from_args
from interplay_hf.evaluation.passk import regime_of
from interplay_hf.evaluation.results_schema import ProblemRecord, Results
from interplay_hf.guard.outputs import check_apart, check_folder, output_lock
from interplay_hf.versions import library_versions

logger = logging.getLogger("interplay_hf.evaluation")
PARTIAL = ".partial"
LOG_EVERY_S = 30.0
# Ranks wait for each other at the end; shards of a long GPU evaluation can finish far apart.
DIST_TIMEOUT = timedelta(hours=12)
# Settings that change the numbers; a resumed run must match them all.
FINGERPRINT_FIELDS = ("model", "subfolder", "revision", "tokenizer", "data", "split", "ops", "contexts",
                      "max_problems_per_op", "n", "temperature", "top_p", "max_new_tokens", "stop", "seed",
                      "backend", "dtype", "greedy", "chat")


def _data_signature(data: str) -> str:
    """Path plus content hash of the eval set (a recipe/jsonl file, or a dataset dir's file names and sizes)."""
    path = Path(data).expanduser()
    if not path.exists():
        return data
    digest = hashlib.sha256(str(path.resolve()).encode())
    if path.is_file():
        digest.update(path.read_bytes())
    else:
        for f in sorted(path.rglob("*")):
            if f.is_file():
                digest.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
    return digest.hexdigest()


def fingerprint(cfg: EvalConfig) -> str:
    values = {name: getattr(cfg, name) for name in FINGERPRINT_FIELDS}
    values["data"] = _data_signature(cfg.data)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_prompt(tokenizer, prompt, chat: bool) -> list[int]:
    """Prompt ids: plain text without BOS (docs/data-format.md §5), or the chat template with a generation prompt."""
    if chat or isinstance(prompt, list):
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError("--chat / conversational prompts need a tokenizer with a chat_template; drop --chat "
                              "or pass a --tokenizer that has one")
        from interplay_hf.data.chat import as_chat_prompt

        messages = as_chat_prompt(prompt)
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
        return list(ids[0] if ids and isinstance(ids[0], list) else ids)
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def make_sampler(cfg: EvalConfig, state, tokenizer):
    from interplay_hf.evaluation.loading import load_model, local_snapshot
    from interplay_hf.evaluation.sampling import HFSampler, stop_config

    if cfg.backend == "vllm":
        from interplay_hf.evaluation.vllm_backend import VLLMSampler, require_vllm

        require_vllm()
        if state.num_processes > 1:
            raise ConfigError("--backend vllm runs in one process (vLLM batches the whole set itself); launch it "
                              "without accelerate multi-process, and use --vllm-tensor-parallel-size for several GPUs")
        path = local_snapshot(cfg.model, cfg.subfolder, cfg.revision)
        from transformers import AutoConfig, GenerationConfig

        try:
            generation_config = GenerationConfig.from_pretrained(path)
        except OSError:
            generation_config = None
        stop = stop_config(tokenizer, AutoConfig.from_pretrained(path), cfg.stop, generation_config)
        return VLLMSampler(path, cfg.tokenizer or path, stop, cfg.max_new_tokens, cfg.temperature, cfg.top_p,
                           cfg.seed, cfg.dtype, cfg.vllm_gpu_memory_utilization, cfg.vllm_tensor_parallel_size)
    model = load_model(cfg.model, cfg.subfolder, cfg.revision, cfg.dtype, state.device)
    stop = stop_config(tokenizer, model.config, cfg.stop, model.generation_config)
    return HFSampler(model, tokenizer, stop, cfg.max_new_tokens, cfg.temperature, cfg.top_p, cfg.batch_size)


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# results.json fields that say which model and settings produced it (compared before writing over it).
_RESULTS_IDENTITY = ("model", "subfolder", "revision", "data", "split", "n")


def refuse_foreign_results(cfg: EvalConfig, out: Path) -> None:
    """Refuse (without ``--overwrite``) an output folder holding results of another model or other settings:
    a re-run of the same command may replace or resume its own results, never someone else's. Nor may it be
    (or hold, or lie inside) the model, the eval set or the tokenizer it reads."""
    check_folder(out)
    check_apart(out, [("--model", cfg.model), ("--data", cfg.data), ("--tokenizer", cfg.tokenizer)])
    if cfg.overwrite:
        return
    fix = "choose another --output-dir, or pass --overwrite to replace them"
    meta = out / PARTIAL / "config.json"
    if cfg.resume and meta.is_file():
        try:
            previous = json.loads(meta.read_text(encoding="utf-8"))
            assert isinstance(previous, dict)
        except (ValueError, UnicodeDecodeError, AssertionError):
            previous = {}
        if previous.get("fingerprint") != fingerprint(cfg):
            model = (previous.get("config") or {}).get("model")
            raise ConfigError(f"--output-dir {out}: holds an unfinished evaluation of {model!r} with other settings "
                              f"({PARTIAL}/); {fix}")
    results = out / "results.json"
    if not results.is_file():
        return
    try:
        old = json.loads(results.read_text(encoding="utf-8"))
        assert isinstance(old, dict)
    except (ValueError, UnicodeDecodeError, AssertionError):
        raise ConfigError(f"--output-dir {out}: its results.json is not one of ours (unreadable); {fix}") from None
    mine = {"model": cfg.model, "subfolder": cfg.subfolder, "revision": cfg.revision, "data": cfg.data,
            "split": cfg.split, "n": cfg.n}
    differ = [key for key in _RESULTS_IDENTITY if old.get(key) != mine[key]]
    sampling = old.get("sampling") if isinstance(old.get("sampling"), dict) else {}
    differ += [f"sampling.{key}" for key, value in cfg.sampling.items()
               if key in sampling and key != "chat" and sampling[key] != value]
    if differ:
        raise ConfigError(f"--output-dir {out}: holds results of another run (differs in {', '.join(differ)}; "
                          f"model {old.get('model')!r}); {fix}")


def _partial_fingerprint(meta: Path) -> str | None:
    """The fingerprint an interrupted run left in ``.partial/config.json`` (None if absent or torn)."""
    try:
        previous = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return previous.get("fingerprint") if isinstance(previous, dict) else None


def _prepare_partial(cfg: EvalConfig, state, out: Path) -> Path:
    partial = out / PARTIAL
    if state.is_main_process:
        meta = partial / "config.json"
        stale = not cfg.resume or _partial_fingerprint(meta) != fingerprint(cfg)
        if stale and partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True, exist_ok=True)
        write_json(meta, {"fingerprint": fingerprint(cfg), "config": cfg.to_dict()})
    state.wait_for_everyone()
    return partial


def _done(partial: Path, problems) -> dict[int, dict]:
    """Finished per-problem records of earlier (interrupted) attempts, by problem index."""
    by_index = {p.index: p for p in problems}
    done = {}
    for path in sorted(partial.glob("records-rank*.jsonl")):
        for rec in read_jsonl(path):
            p = by_index.get(rec.get("index"))
            if p is not None and p.id == rec.get("id"):
                done[p.index] = rec
    return done


def sample_and_score(cfg: EvalConfig, sampler, tokenizer, problems, partial: Path, rank: int, log) -> int:
    """Sample, verify and append records/samples for ``problems``; returns the number of generated tokens."""
    from interplay_hf.evaluation.sampling import Request, build_requests, decode_completion
    from interplay_hf.evaluation.scoring import score_problem

    prompt_ids = {p.index: encode_prompt(tokenizer, p.prompt, cfg.chat) for p in problems}
    if sampler.batch_size is None and sampler.backend == "hf" and problems:
        from interplay_hf.evaluation.sampling import auto_batch_size

        longest = max(len(ids) for ids in prompt_ids.values())
        sampler.batch_size = auto_batch_size(sampler.model, longest + cfg.max_new_tokens, sampler.device)
    rows_per_chunk = 4 * (sampler.batch_size or 256)
    chunk_size = max(1, math.ceil(rows_per_chunk / cfg.n))
    total_tokens, started, finished, last_log = 0, time.time(), 0, 0.0
    for chunk in _chunks(problems, chunk_size):
        ids = [prompt_ids[p.index] for p in chunk]
        requests = build_requests(ids, [p.id for p in chunk], cfg.n, cfg.seed)
        if cfg.greedy:  # greedy decodes ride in the same batches as the samples
            requests += [Request(list(x), None) for x in ids]
        generated = sampler.generate(requests)
        greedy = generated[len(chunk) * cfg.n :] if cfg.greedy else [None] * len(chunk)
        records, samples = [], []
        for i, p in enumerate(chunk):
            decoded = [decode_completion(g, tokenizer, sampler.stop) for g in generated[i * cfg.n : (i + 1) * cfg.n]]
            greedy_text = decode_completion(greedy[i], tokenizer, sampler.stop)[0] if greedy[i] is not None else None
            record, rows = score_problem(
                p, [d[0] for d in decoded], greedy_text, [d[1] for d in decoded], [d[2] for d in decoded]
            )
            record["regime"] = regime_of(p.op, cfg.regimes)
            record["generated_tokens"] = sum(d[1] for d in decoded)
            total_tokens += record["generated_tokens"]
            records.append(record)
            if cfg.save_samples:
                cap = cfg.samples_per_problem
                samples.extend(r for r in rows if cap is None or r["sample"] == "greedy" or r["sample"] < cap)
        if samples:
            append_jsonl(partial / f"samples-rank{rank}.jsonl", samples)
        append_jsonl(partial / f"records-rank{rank}.jsonl", records)  # after samples: a record means "complete"
        finished += len(chunk)
        elapsed = time.time() - started
        if elapsed - last_log < LOG_EVERY_S and finished < len(problems):
            continue
        last_log = elapsed
        log(f"rank {rank}: {finished}/{len(problems)} problems, {total_tokens} tokens, "
            f"{total_tokens / max(elapsed, 1e-9):.0f} tok/s, batch size {sampler.batch_size}")
    return total_tokens


def _chance(cfg: EvalConfig, problems):
    from interplay_hf.evaluation.chance import chance_distribution

    contexts = sorted({p.context for p in problems})
    dist = chance_distribution([(p.op, p.answer) for p in problems], contexts, cfg.chance_samples)
    sources = sorted(set(dist.source.values()))
    return dist, sources[0] if len(sources) == 1 else {str(op): src for op, src in sorted(dist.source.items())}


def build_results(cfg: EvalConfig, records: list[ProblemRecord], problems, run_info: dict) -> Results:
    from interplay_hf.evaluation.aggregate import summarize

    dist, source = _chance(cfg, problems)
    for rec in records:
        rec["chance_p"] = dist.hit_prob(rec["op"], rec["answer"])
    return {
        "model": cfg.model,
        "subfolder": cfg.subfolder,
        "revision": cfg.revision,
        "data": cfg.data,
        "split": cfg.split,
        "n": cfg.n,
        "k": list(cfg.k),
        "sampling": {**cfg.sampling, "chat": cfg.chat or any(isinstance(p.prompt, list) for p in problems)},
        "regimes": cfg.regimes,
        "chance": {"source": source, "estimator": "1 - (1 - p(answer))^k, p per op"},
        "intervals": cfg.intervals.record(),
        "versions": library_versions(),
        "run": run_info,
        "problems": records,
        "summary": summarize(records, cfg.k, cfg.regimes, cfg.intervals),
    }


def _merge_samples(partial: Path, problems) -> list[dict]:
    valid = {(p.index, p.id) for p in problems}
    seen: dict[tuple, dict] = {}
    for path in sorted(partial.glob("samples-rank*.jsonl")):
        for row in read_jsonl(path):
            if (row.get("index"), row.get("id")) in valid:
                seen[(row["index"], str(row["sample"]))] = row

    def order(row: dict):
        return (row["index"], row["sample"] == "greedy", row["sample"] if row["sample"] != "greedy" else 0)

    return sorted(seen.values(), key=order)


def _cpu_ranks() -> bool:
    """Whether ranks run on CPU. PartialState (unlike Accelerator) ignores ACCELERATE_USE_CPU, and on a machine
    without an accelerator it silently runs each launched rank as a lone process unless told cpu=True."""
    import os

    import torch

    if os.environ.get("ACCELERATE_USE_CPU", "false").lower() in ("1", "true", "yes"):
        return True
    has_accelerator = torch.accelerator.is_available() if hasattr(torch, "accelerator") else torch.cuda.is_available()
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not has_accelerator


def evaluate(cfg: EvalConfig, log=None) -> dict | None:
    """Run the evaluation described by ``cfg``; returns results.json's content on the main process (None elsewhere)."""
    from accelerate import PartialState

    state = PartialState(cpu=_cpu_ranks(), timeout=DIST_TIMEOUT)
    out = Path(cfg.output_dir)
    refuse_foreign_results(cfg, out)
    # The main process locks the folder for the whole run: a second eval into it stops here, not after its run.
    with output_lock(out) if state.is_main_process else contextlib.nullcontext():
        return _evaluate(cfg, state, out, log or (lambda msg: logger.info(msg)))


def _evaluate(cfg: EvalConfig, state, out: Path, log) -> dict | None:
    from interplay_hf.evaluation.loading import load_tokenizer
    from interplay_hf.evaluation.problems import load_problems

    started = time.time()
    with state.main_process_first():  # a recipe is built once, by the main process
        problems = load_problems(cfg.data, cfg.split, cfg.ops, cfg.contexts, cfg.max_problems_per_op, out,
                                 build=state.is_main_process)
    if cfg.backend == "vllm":
        from interplay_hf.evaluation.vllm_backend import require_vllm

        require_vllm()
    tokenizer = load_tokenizer(cfg.model, cfg.subfolder, cfg.revision, cfg.tokenizer)
    if (cfg.chat or any(isinstance(p.prompt, list) for p in problems)) and not getattr(tokenizer, "chat_template", None):
        raise ConfigError("--chat / conversational prompts need a tokenizer with a chat_template; drop --chat "
                          "or pass a --tokenizer that has one")
    partial = _prepare_partial(cfg, state, out)
    done = _done(partial, problems)
    todo = [p for p in problems if p.index not in done]
    mine = todo[state.process_index :: state.num_processes]
    if state.is_main_process:
        log(f"{len(problems)} problems ({len(done)} already done), n = {cfg.n}, {state.num_processes} process(es)")
    tokens = 0
    if todo:  # every rank loads the model when there is work, so collective ops stay aligned
        sampler = make_sampler(cfg, state, tokenizer)
        tokens = sample_and_score(cfg, sampler, tokenizer, mine, partial, state.process_index, log)
        batch_size = sampler.batch_size
    else:
        batch_size = None
    state.wait_for_everyone()
    results = None
    if state.is_main_process:
        done = _done(partial, problems)
        missing = [p.index for p in problems if p.index not in done]
        assert not missing, f"problems without records after sampling: {missing[:10]}"
        records = [done[p.index] for p in problems]
        elapsed = time.time() - started
        new = {p.index for p in todo}
        tokens = sum(r.get("generated_tokens", 0) for r in records if r["index"] in new)
        run_info = {"num_processes": state.num_processes, "batch_size": batch_size, "seconds": round(elapsed, 2),
                    "generated_tokens": tokens, "tokens_per_second": round(tokens / max(elapsed, 1e-9), 1),
                    "resumed_problems": len(problems) - len(todo)}
        results = build_results(cfg, records, problems, run_info)
        write_outputs(cfg, results, partial, problems, out)
        log(f"wrote {out / 'results.json'}")
    state.wait_for_everyone()
    return results


def write_outputs(cfg: EvalConfig, results: dict, partial: Path, problems, out: Path) -> None:
    from interplay_hf.evaluation.inspector import PAGE_FILE, PROBLEMS_FILE, SAMPLES_FILE, problem_row, write_inspector
    from interplay_hf.evaluation.report import write_run_report

    if cfg.save_samples:
        write_jsonl(out / SAMPLES_FILE, _merge_samples(partial, problems))
        write_jsonl(out / PROBLEMS_FILE, [problem_row(p) for p in problems])  # the gold the inspector re-verifies
    write_json(out / "results.json", results)
    page = cfg.save_samples and cfg.inspect
    if page:
        write_inspector([out], out / PAGE_FILE, labels=[out.resolve().name])
    write_run_report(results, out, plots=cfg.plots, inspector=PAGE_FILE if page else None)
    shutil.rmtree(partial, ignore_errors=True)


def build_arg_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="python -m interplay_hf.evaluation.run", description=__doc__.split("\n")[0])
    add_dataclass_arguments(parser, EvalConfig)
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    cfg = config_from_args(EvalConfig, args)
    results = evaluate(cfg, log=lambda msg: print(f"[eval] {msg}", file=sys.stderr, flush=True))
    if results is not None:
        from interplay_hf.evaluation.formatting import table_ks

        o = results["summary"]["overall"]
        ks = table_ks(results["k"])
        proc = ", ".join(f"@{k} {o['process_pass@k'][str(k)]:.3f}" for k in ks)
        outc = ", ".join(f"@{k} {o['outcome_pass@k'][str(k)]:.3f}" for k in ks)
        print(f"process-verified pass{proc} | outcome pass{outc} | {o['num_problems']} problems -> {cfg.output_dir}")
    return 0
