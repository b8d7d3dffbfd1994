"""Datasets of the real path by Hub id or local path, and their rows in TRL's formats: AlpacaEval 2's
instructions (the evaluation set), preference pairs (conversational prompt/chosen/rejected) and SFT rows
(conversational prompt/completion).

Published schemas read here (the dataset cards, and for WildFeedback the public loaders of its ``wildfeedback``
config, since its card lists no features):

* ``HuggingFaceH4/ultrafeedback_binarized`` (and ``princeton-nlp/llama3-ultrafeedback``): ``prompt`` a string,
  ``chosen``/``rejected`` whole conversations (the user turn repeated, the answer last), ``messages``, ``prompt_id``,
  ``score_chosen``/``score_rejected``; splits ``train_prefs``, ``test_prefs`` ... → :func:`to_conversational`.
* ``PrincetonPLI/Instruct-SkillMix-SDA``: one default config over JSON files ``data/ism_sda_k{1,2}_{1K,2K,4K}.json``
  (no named configs: a file is chosen with ``data_files``), rows ``instruction``, ``input``, ``output``,
  ``orig_instruction``, ``skills_joined_str``, ``query_type``, ``generator`` → :func:`to_sft` (Alpaca's fields).
* ``microsoft/WildFeedback``: configs ``wildfeedback`` (``wildfeedback.json``), ``sat_dsat_annotation``,
  ``user_preference``; ``wildfeedback`` rows hold ``conversations`` (ShareGPT turns ``{"from": "human"|"gpt",
  "value"}`` up to the user's last turn), ``chosen`` and ``rejected`` (one ShareGPT turn each) → :func:`chat`,
  :func:`text`.
"""

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


ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def chat(turns) -> list[dict]:
    """Chat messages from a message list or ShareGPT turns (``from``/``value``, WildFeedback's) or one such turn."""
    turns = [turns] if isinstance(turns, dict) else list(turns)
    return [
        {
            "role": ROLES[t["role"] if "role" in t else t["from"]],
            "content": t["content"] if "content" in t else t["value"],
        }
        for t in turns
    ]


def text(v) -> str:
    """A message's text: a string, a message or ShareGPT turn, or the last of a list of them."""
    if isinstance(v, list):
        v = v[-1] if v else ""
    return chat(v)[0]["content"] if isinstance(v, dict) else str(v)


def messages(x) -> list[dict]:
    """An instruction as a chat: a string is one user turn; a message list (a multi-turn context) is kept."""
    return [{"role": "user", "content": x}] if isinstance(x, str) else chat(x)


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


def open_dataset(name_or_path: str, split: str, subset: str | None = None, data_files=None):
    """A Hub dataset id (with an optional config ``subset`` or files ``data_files`` of its repository), a
    ``save_to_disk`` directory, or a JSON / JSON-lines file."""
    from datasets import load_dataset, load_from_disk

    p = Path(str(name_or_path))
    if p.is_dir():
        ds = load_from_disk(str(p))
        return ds[split] if hasattr(ds, "keys") and split in ds else ds
    if p.suffix in (".json", ".jsonl"):
        return load_dataset("json", data_files=str(p), split="train")
    if data_files:  # a dataset without named configs (Instruct-SkillMix): its files, all in one "train" split
        return load_dataset(str(name_or_path), data_files=data_files, split="train")
    if subset:
        return load_dataset(str(name_or_path), subset, split=split)
    return load_dataset(str(name_or_path), split=split)


def raw_rows(name_or_path: str, split: str, n: int, seed: int, subset: str | None = None, data_files=None):
    """``n`` rows of a dataset (``open_dataset``), shuffled by ``seed``, as stored."""
    ds = open_dataset(name_or_path, split, subset, data_files)
    return ds.shuffle(seed=seed).select(range(min(n, len(ds))))


def load_rows(name_or_path: str, split: str, n: int, seed: int, kind: str, subset: str | None = None, data_files=None):
    """``raw_rows`` in TRL's format."""
    ds = raw_rows(name_or_path, split, n, seed, subset, data_files)
    fn = to_conversational if kind == "preference" else to_sft
    return ds.map(fn, remove_columns=ds.column_names)
