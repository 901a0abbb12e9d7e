"""Callbacks of both training scripts: held-out evaluation (per-document cross-entropy and, optionally, strict
accuracy) and the non-finite loss guard.

Why: with packed pre-training the logged training loss is measured on 2,048-token packs whose
documents can attend to each other; on near-identical synthetic problems that makes the loss much
lower than what the model achieves on a single document (docs/paper-settings.md). The number that matters
for sampling is the cross-entropy of one document on its own, so every stage tracks it.
"""

from __future__ import annotations

import logging
import math
import os
import random

from transformers import TrainerCallback

from interplay_hf.errors import ConfigError

logger = logging.getLogger(__name__)


def document_cross_entropy(model, tokenizer, texts: list[str], batch_size: int = 16) -> dict[str, float]:
    """Cross-entropy (nats/token) of each text on its own (no packing), pooled over tokens and per document.

    ``texts`` should already end with the EOS token string, as training documents do.
    """
    import torch

    device = next(model.parameters()).device
    total_nll, total_tokens, per_doc = 0.0, 0, []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                padding_side="right",
                add_special_tokens=False,
            ).to(device)
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float()
            targets = enc["input_ids"][:, 1:]
            mask = enc["attention_mask"][:, 1:].float()
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none"
            ).view_as(targets)
            doc_nll = (nll * mask).sum(dim=1)
            doc_tokens = mask.sum(dim=1).clamp(min=1)
            total_nll += doc_nll.sum().item()
            total_tokens += int(mask.sum().item())
            per_doc.extend((doc_nll / doc_tokens).tolist())
    return {
        "heldout_ce": total_nll / max(total_tokens, 1),
        "heldout_doc_ce": sum(per_doc) / max(len(per_doc), 1),
    }


def greedy_accuracy(
    model, tokenizer, rows: list[dict], max_new_tokens: int, stop_ids: list[int], batch_size: int = 16
) -> dict[str, float]:
    """Greedy completions of held-out prompts, scored with the process verifier (docs/verifier.md)."""
    import torch

    from interplay_hf.verify import verify

    device = next(model.parameters()).device
    outcome = strict = score = 0.0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            enc = tokenizer(
                [_prompt_text(tokenizer, r["prompt"]) for r in batch],
                return_tensors="pt",
                padding=True,
                padding_side="left",
                add_special_tokens=False,
            ).to(device)
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stop_ids,
                pad_token_id=tokenizer.pad_token_id,
            )
            texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            for row, text in zip(batch, texts):
                result = verify(
                    text, gold_solution=row.get("solution"), gold_graph=row.get("gold_graph"), gold_answer=row.get("answer")
                )
                outcome += float(result.outcome)
                strict += float(result.process_verified)
                score += float(result.process_score)
    n = max(len(rows), 1)
    return {"heldout_outcome_acc": outcome / n, "heldout_strict_acc": strict / n, "heldout_process_score": score / n}


def _prompt_text(tokenizer, prompt) -> str:
    """Plain prompts as they are; chat prompts (a list of messages) through the chat template."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


class HeldoutEvalCallback(TrainerCallback):
    """Every ``every`` optimizer steps (and at the end): held-out per-document CE, optionally strict accuracy.

    It also scores as many *training* documents one at a time (``train_doc_ce``), which separates the two
    reasons a packed training loss can sit below the held-out CE: ``loss < train_doc_ce`` means the packs
    help (attention to neighbouring documents), ``train_doc_ce < heldout_ce`` means memorisation.

    Metrics go through the base ``transformers.Trainer.log`` so they land in ``log_history``,
    ``trainer_state.json`` and every ``report_to`` integration, without flushing the metric buffers
    that SFTTrainer/GRPOTrainer keep for their own logging steps.
    """

    def __init__(
        self,
        trainer,
        texts: list[str],
        train_texts: list[str] | None = None,
        sample_rows: list[dict] | None = None,
        every: int | None = None,
        batch_size: int = 16,
        max_new_tokens: int = 512,
        stop_ids: list[int] | None = None,
    ):
        self.trainer = trainer
        self.texts = texts
        self.train_texts = train_texts or []
        self.sample_rows = sample_rows or []
        self.every = every
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.stop_ids = stop_ids
        self._last_step = -1

    def on_train_begin(self, args, state, control, **kwargs):
        if self.every is None:
            self.every = max(1, state.max_steps // 10)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every == 0:
            self.score_held_out(state, kwargs["model"])

    def on_train_end(self, args, state, control, **kwargs):
        if state.global_step != self._last_step:
            self.score_held_out(state, kwargs["model"])

    def score_held_out(self, state, model) -> dict[str, float]:
        from transformers import Trainer

        tokenizer = self.trainer.processing_class
        was_training = model.training
        model.eval()
        try:
            metrics = document_cross_entropy(model, tokenizer, self.texts, self.batch_size) if self.texts else {}
            if self.train_texts:
                train = document_cross_entropy(model, tokenizer, self.train_texts, self.batch_size)
                metrics["train_doc_ce"] = train["heldout_ce"]
            if self.sample_rows:
                stop_ids = self.stop_ids or [tokenizer.eos_token_id]
                metrics.update(
                    greedy_accuracy(model, tokenizer, self.sample_rows, self.max_new_tokens, stop_ids, self.batch_size)
                )
        finally:
            model.train(was_training)
        self._last_step = state.global_step
        if metrics:
            # on_log clears control.should_log; keep the Trainer's own logging step intact.
            should_log = self.trainer.control.should_log
            Trainer.log(self.trainer, {k: round(v, 4) for k, v in metrics.items()})
            self.trainer.control.should_log = should_log
        return metrics


def split_heldout(dataset, script_args, seed: int):
    """(train split, held-out split or None) following ``heldout_split`` (see StageArguments)."""
    train = dataset[script_args.dataset_train_split]
    choice = script_args.heldout_split
    if choice is None or script_args.heldout_size == 0:
        return train, None
    if choice != "auto":
        if choice not in dataset:
            raise ConfigError(f"heldout_split: {script_args.dataset_path} has no split {choice!r} (splits: {sorted(dataset)}).")
        heldout = dataset[choice]
    else:
        names = [n for n in ("validation", "test") if n in dataset and n != script_args.dataset_train_split]
        if names:
            heldout = dataset[names[0]]
        elif len(train) >= 4 * script_args.heldout_size:
            # Set aside documents at random but keep the training order (it matters for wrapped packing).
            held = set(random.Random(seed).sample(range(len(train)), script_args.heldout_size))
            heldout = train.select(sorted(held))
            train = train.select([i for i in range(len(train)) if i not in held])
        else:
            logger.warning("No held-out split and too few training rows to set %d aside: held-out eval off.", script_args.heldout_size)
            return train, None
    return train, heldout.select(range(min(script_args.heldout_size, len(heldout))))


def heldout_texts(heldout, text_field: str, prompt_column: str, tokenizer) -> list[str]:
    """Held-out documents as trained on: the text column (or prompt + completion) plus EOS.

    Conversational rows (chat data for instruct models) are rendered through the chat template."""
    if text_field in heldout.column_names:
        texts = heldout[text_field]
    elif prompt_column in heldout.column_names and "completion" in heldout.column_names:
        texts = [
            p + c if isinstance(p, str) else tokenizer.apply_chat_template(p + c, tokenize=False)
            for p, c in zip(heldout[prompt_column], heldout["completion"])
        ]
    else:
        return []
    eos = tokenizer.eos_token
    return [t if t.endswith(eos) else t + eos for t in texts]


def heldout_sample_rows(heldout, prompt_column: str, n: int, text_field: str = "text") -> list[dict]:
    """Up to ``n`` held-out rows with what the verifier needs (prompt, solution, answer, gold_graph).

    Pre-training sets carry only ``text``; the prompt and the gold solution are then cut out of it
    (docs/data-format.md §5: prompt = text up to ``<solution>``; steps up to ``</solution>``; answer in the tags).
    """
    if n == 0 or heldout is None:
        return []
    heldout = heldout.select(range(min(n, len(heldout))))
    columns = heldout.column_names
    if prompt_column in columns and "solution" in columns:
        keep = [c for c in (prompt_column, "solution", "answer", "gold_graph") if c in columns]
        return [{**r, "prompt": r[prompt_column]} for r in heldout.select_columns(keep).to_list()]
    if text_field in columns:
        return [row for row in map(split_model_text, heldout[text_field]) if row is not None]
    return []


def split_model_text(text: str) -> dict | None:
    """``{prompt, solution, answer}`` of a model text (docs/data-format.md §5), or None if it is not one."""
    head, sep, rest = text.partition("<solution>")
    body, sep2, tail = rest.partition("</solution>")
    if not (sep and sep2 and "<answer>" in tail):
        return None
    answer = tail.split("<answer>", 1)[1].split("</answer>", 1)[0].strip()
    return {"prompt": head + sep, "solution": f"{body.strip()} Answer: {answer}.", "answer": answer}


class NonFiniteLossGuard(TrainerCallback):
    """Stop at the first NaN or infinite ``loss`` or ``grad_norm`` and keep what was good.

    A non-finite loss (or gradient norm: the update after it is garbage) means every later step trains NaN
    weights; the Trainer would carry on, save them as checkpoints and exit 0. Here a save step always logs first
    (``should_log``), the log that shows the non-finite value cancels that save and stops training, so the
    newest checkpoint on disk is the last one taken before it; :meth:`raise_if_tripped` then fails the stage.
    """

    WATCHED = ("loss", "grad_norm")

    def __init__(self) -> None:
        self.tripped: tuple[int, str, float] | None = None  # (global step, key, value)

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save:
            control.should_log = True  # check the loss of the steps since the last log before saving them
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in self.WATCHED:
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value) and self.tripped is None:
                self.tripped = (state.global_step, key, value)
        if self.tripped is not None:
            control.should_save = False
            control.should_training_stop = True
        return control

    def raise_if_tripped(self, output_dir: str) -> None:
        """ConfigError naming the step, the value and the last good checkpoint, if training hit a non-finite value."""
        if self.tripped is None:
            return
        from transformers.trainer_utils import get_last_checkpoint

        step, key, value = self.tripped
        last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was taken before it"
        raise ConfigError(f"training stopped at step {step}: {key} is {value} (non-finite); the weights after it "
                          f"were not saved and {kept}; lower learning_rate, set max_grad_norm, or check the data "
                          "and the model's dtype")


def add_heldout_eval(
    trainer, heldout, train_split, script_args, tokenizer, text_field: str = "text", chat_prompts: bool = False
) -> None:
    """Attach the held-out per-document CE (and optional strict accuracy) callback to ``trainer``.

    As many training documents as held-out ones are scored the same way (``train_doc_ce``).
    ``chat_prompts``: sample with plain-text prompts wrapped into a user message, as GRPO trains them.
    """
    from interplay_hf.tokenizer import stop_token_ids

    if heldout is None:
        return
    prompt_column = script_args.dataset_prompt_column
    texts = heldout_texts(heldout, text_field, prompt_column, tokenizer)
    sample = train_split.select(range(min(len(texts), len(train_split))))
    train_texts = heldout_texts(sample, text_field, prompt_column, tokenizer)
    rows = heldout_sample_rows(heldout, prompt_column, script_args.heldout_sample_prompts, text_field)
    if chat_prompts:
        rows = [{**r, "prompt": [{"role": "user", "content": r["prompt"]}]} if isinstance(r["prompt"], str) else r for r in rows]
    trainer.add_callback(
        HeldoutEvalCallback(
            trainer,
            texts=texts,
            train_texts=train_texts,
            sample_rows=rows,
            every=script_args.heldout_steps,
            batch_size=script_args.heldout_batch_size,
            max_new_tokens=script_args.heldout_max_new_tokens,
            stop_ids=stop_token_ids(tokenizer),
        )
    )
