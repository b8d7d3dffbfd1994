"""Datasets of the real path by Hub id or local path, and their rows in TRL's formats: AlpacaEval 2's
instructions (the evaluation set), preference pairs (conversational prompt/chosen/rejected) and SFT rows
(conversational prompt/completion)."""

from __future__ import annotations

import json
from pathlib import Path

from ..worlds.public_data import data_path

EVAL_SET = (
    "alpaca_eval/eval_set_805_with_gpt4_1106_preview_baseline_outputs.json"  # AlpacaEval 2's 805 + gpt4_1106_preview
)


def eval_instructions(cfg) -> list[dict]:
    """AlpacaEval 2's instructions with the baseline's (gpt4_1106_preview) outputs: the first ``scale.world.n_eval``."""
    with open(data_path(EVAL_SET)) as f:
        rows = json.load(f)
    n = int(cfg.scale.world.n_eval)
    return rows[:n]


def messages(x) -> list[dict]:
    """An instruction as a chat: a string is one user turn; a message list (a multi-turn context) is kept."""
    return [{"role": "user", "content": x}] if isinstance(x, str) else list(x)


def to_conversational(row: dict) -> dict:
    """A preference row as TRL's conversational prompt/chosen/rejected. UltraFeedback-binarized stores the whole
    conversation in chosen/rejected (user turn included) and the prompt as a string; the last turn is the response."""
    ch, rj = row["chosen"], row["rejected"]
    if isinstance(ch, list):
        prompt = ch[:-1] if len(ch) > 1 else [{"role": "user", "content": row["prompt"]}]
        return {"prompt": prompt, "chosen": ch[-1:], "rejected": rj[-1:]}
    return {
        "prompt": [{"role": "user", "content": row["prompt"]}],
        "chosen": [{"role": "assistant", "content": ch}],
        "rejected": [{"role": "assistant", "content": rj}],
    }


def to_sft(row: dict) -> dict:
    """An SFT row as TRL's conversational prompt/completion (``messages`` lists or prompt/response strings)."""
    if "messages" in row:
        return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}
    if row.get("input"):  # Alpaca's optional input field follows the instruction, as in its own template
        row = {**row, "instruction": f"{row['instruction']}\n\n{row['input']}"}
    resp = row.get("completion", row.get("response", row.get("output")))
    return {
        "prompt": [{"role": "user", "content": row["prompt"] if "prompt" in row else row["instruction"]}],
        "completion": [{"role": "assistant", "content": resp}],
    }


def open_dataset(name_or_path: str, split: str, subset: str | None = None):
    """A Hub dataset id (with an optional config ``subset``), a ``save_to_disk`` directory, or a JSON-lines file."""
    from datasets import load_dataset, load_from_disk

    p = Path(str(name_or_path))
    if p.is_dir():
        ds = load_from_disk(str(p))
        return ds[split] if hasattr(ds, "keys") and split in ds else ds
    if p.suffix in (".json", ".jsonl"):
        return load_dataset("json", data_files=str(p), split="train")
    if subset:
        return load_dataset(str(name_or_path), subset, split=split)
    return load_dataset(str(name_or_path), split=split)


def raw_rows(name_or_path: str, split: str, n: int, seed: int, subset: str | None = None):
    """``n`` rows of a dataset (``open_dataset``), shuffled by ``seed``, as stored."""
    ds = open_dataset(name_or_path, split, subset)
    return ds.shuffle(seed=seed).select(range(min(n, len(ds))))


def load_rows(name_or_path: str, split: str, n: int, seed: int, kind: str, subset: str | None = None):
    """``raw_rows`` in TRL's format."""
    ds = raw_rows(name_or_path, split, n, seed, subset)
    fn = to_conversational if kind == "preference" else to_sft
    return ds.map(fn, remove_columns=ds.column_names)
