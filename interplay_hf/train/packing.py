"""Per-document attention inside packed rows (``wrapped``, or whole documents packed ``bfd``), without TRL's
padding-free flattening.

Packed pre-training with plain causal attention lets a document attend to the documents before it in
the pack; on near-identical synthetic problems the model learns to copy from its neighbours, and the
training loss falls far below the cross-entropy of a single document (docs/paper-settings.md).

TRL's per-document option (``packing_strategy: bfd`` → padding-free) flattens the whole batch into one
row and relies on FlashAttention's varlen kernels; with sdpa/eager (CPU) that row's attention is
quadratic in batch × length (measured ~4x slower than ``wrapped`` on a 1M model). This collator keeps
the ``[batch, max_length]`` rows of ``wrapped`` packing and restarts ``position_ids`` after every EOS;
with no ``attention_mask``, transformers builds a block-diagonal causal mask from the position ids
(``masking_utils.find_packed_sequence_indices``), and FlashAttention uses them as varlen boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DocumentMaskCollator:
    """Stack packed rows; ``position_ids`` restart after each ``eos_token_id``; a document's first token
    is not a target (nothing before it may predict it), as in TRL's padding-free collator.
    """

    pad_token_id: int
    eos_token_id: int

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        length = max(len(e["input_ids"]) for e in examples)
        input_ids = torch.full((len(examples), length), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(examples), length), -100, dtype=torch.long)
        for row, example in enumerate(examples):
            n = len(example["input_ids"])
            input_ids[row, :n] = torch.as_tensor(example["input_ids"])
            labels[row, :n] = torch.as_tensor(example.get("labels", example["input_ids"]))
        return {"input_ids": input_ids, "labels": labels, "position_ids": document_position_ids(input_ids, self.eos_token_id, labels)}


def document_position_ids(input_ids, eos_token_id: int, labels=None):
    """Positions counted from the start of each document (a document starts after an EOS).

    When ``labels`` is given, the first token of every document after the first is set to -100 in place.
    """
    import torch

    starts = torch.zeros_like(input_ids, dtype=torch.bool)
    starts[:, 1:] = input_ids[:, :-1] == eos_token_id
    index = torch.arange(input_ids.size(1)).expand_as(input_ids)
    start_of_doc = torch.where(starts, index, torch.zeros_like(index)).cummax(dim=1).values
    if labels is not None:
        labels[starts] = -100
    return index - start_of_doc


def pack_whole_documents(dataset, tokenizer, text_field: str, max_length: int, num_proc: int | None = None):
    """Tokenize every document (EOS appended) and pack whole documents into rows of at most ``max_length``
    tokens with TRL's best-fit-decreasing packer: no document is split across rows (the official
    first-fit-decreasing bins); :class:`DocumentMaskCollator` then masks attention per document.
    """
    from trl import pack_dataset

    eos = tokenizer.eos_token_id

    def tokenize(batch: dict) -> dict:
        ids = tokenizer(list(batch[text_field]), add_special_tokens=False)["input_ids"]
        return {"input_ids": [row + [eos] for row in ids]}

    tokenized = dataset.map(tokenize, batched=True, remove_columns=dataset.column_names, num_proc=num_proc,
                            desc="Tokenizing whole documents")
    return pack_dataset(tokenized, max_length, strategy="bfd").select_columns(["input_ids"])
