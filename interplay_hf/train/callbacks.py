"""Held-out evaluation during training: per-document cross-entropy and (optionally) strict accuracy.

Why: with packed pre-training the logged training loss is measured on 2,048-token packs whose
documents can attend to each other; on near-identical synthetic problems that makes the loss much
lower than what the model achieves on a single document (docs/paper-settings.md). The number that matters
for sampling is the cross-entropy of one document on its own, so every stage tracks it.
"""

from __future__ import annotations

import logging

from transformers import TrainerCallback

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
            self.evaluate(state, kwargs["model"])

    def on_train_end(self, args, state, control, **kwargs):
        if state.global_step != self._last_step:
            self.evaluate(state, kwargs["model"])

    def evaluate(self, state, model) -> dict[str, float]:
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
