"""Models that score text — a sequence-classification reward model r(x, y), AutoRule's yes/no rule verifier, a
policy read as its own judge — each loaded **once per process** (:func:`shared`): the judge scores n − 1 candidate
columns a round, GRPO calls the reward every step and TSR self-scores three times a round, and loading a 0.6B model
onto the GPU for each call would cost more than the scoring (and a second copy of its memory)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.config import ConfigError

VERIFY = (
    "Here is an instruction, a response to it, and a rule.\n\nInstruction:\n{x}\n\nResponse:\n{y}\n\nRule: {rule}\n\n"
    "Does the response satisfy the rule? Answer with Yes or No only."
)


_loaded: dict = {}


def shared(kind: str, key, make):
    """The process's one instance of ``kind`` for ``key`` (``make()`` on first use)."""
    k = (kind, repr(key))
    if k not in _loaded:
        _loaded[k] = make()
    return _loaded[k]


def forget(kind: str | None = None) -> None:
    """Drop the loaded instances (of one ``kind``), e.g. a policy scored as its own judge once its round is over."""
    for k in [k for k in _loaded if kind is None or k[0] == kind]:
        del _loaded[k]


def reward_model(name_or_path, *, dtype: str = "float32", batch_size: int = 16, max_length: int | None = None):
    """The shared :class:`RewardModel` of these settings."""
    kw = {"dtype": str(dtype), "batch_size": int(batch_size), "max_length": max_length}
    return shared("reward_model", (str(name_or_path), kw), lambda: RewardModel(name_or_path, **kw))


def rule_verifier(cfg, name_or_path, rules: Sequence[str], batch_size: int = 16):
    """The shared :class:`RuleVerifier` of this model and rule list."""
    key = (str(name_or_path), tuple(rules), int(batch_size), bool(cfg.hardware.get("bf16")))
    return shared("verifier", key, lambda: RuleVerifier(cfg, name_or_path, rules, batch_size))


class RewardModel:
    """A local sequence-classification reward model by Hub id or path, loaded once: ``rm(instructions, responses)``
    is r(x, y) per pair, the pair written in the reward model's own chat template (its dtype only on a GPU). Over
    ``max_length`` tokens the instruction is shortened from its start, never the answer it scores (a right
    truncation would cut the answer's end, the part a verbose model adds); only an answer longer than the whole
    window loses its end."""

    def __init__(self, name_or_path, *, dtype: str = "float32", batch_size: int = 16, max_length: int | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        cuda = torch.cuda.is_available()
        self.tok = AutoTokenizer.from_pretrained(name_or_path)
        self.rm = AutoModelForSequenceClassification.from_pretrained(
            name_or_path, dtype=getattr(torch, dtype) if cuda else torch.float32, num_labels=1
        )
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.rm.config.pad_token_id = self.tok.pad_token_id
        if cuda:
            self.rm = self.rm.to("cuda")
        self.rm.eval()
        self.batch_size, self.max_length = int(batch_size), max_length

    def __call__(self, instructions: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        import torch

        tok = self.tok
        texts = [self.text(x, y) for x, y in zip(instructions, responses)]
        order = sorted(
            range(len(texts)), key=lambda i: len(texts[i])
        )  # length-sorted batches: little padding on real answers
        r = np.zeros(len(texts))
        with torch.no_grad():
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                enc = tok(
                    [texts[i] for i in idx],
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                    truncation=self.max_length is not None,
                    max_length=self.max_length,
                ).to(self.rm.device)
                r[idx] = self.rm(**enc).logits[:, 0].float().cpu().numpy()
        return r

    def text(self, x: str, y: str) -> str:
        """The pair in the chat template, its instruction shortened (keeping its end) to fit ``max_length``."""
        conv = lambda x: self.tok.apply_chat_template(
            [{"role": "user", "content": x}, {"role": "assistant", "content": y}], tokenize=False
        )
        t = conv(x)
        if self.max_length is None:
            return t
        ids = self.tok(x, add_special_tokens=False)["input_ids"]
        for _ in range(3):  # re-tokenizing a cut text may merge tokens differently: check, at most twice more
            over = len(self.tok(t, add_special_tokens=False)["input_ids"]) - int(self.max_length)
            if over <= 0:
                return t
            ids = ids[min(len(ids), over) :]
            t = conv(self.tok.decode(ids) if ids else "")
        return t  # the answer alone exceeds the window: truncation=True then cuts its end


class RuleVerifier:
    """s_k(x, y) ∈ {0, 1}: whether a causal LM, asked in its chat template whether response y to instruction x
    satisfies rule k (``VERIFY``), puts more next-token probability on "Yes" than on "No" (the first token of
    either spelling, capitalised or not). Greedy and deterministic; one forward pass per (response, rule)."""

    def __init__(self, cfg, name_or_path, rules: Sequence[str], batch_size: int = 16):
        import torch

        from .policy import load_policy

        self.model, self.tok = load_policy(name_or_path, cfg)
        self.model.eval()
        self.rules, self.batch_size, self.torch = list(rules), int(batch_size), torch
        first = lambda w: self.tok(w, add_special_tokens=False)["input_ids"][0]
        yes, no = {first("Yes"), first("yes")}, {first("No"), first("no")}
        self.yes, self.no = sorted(yes - no), sorted(no - yes)  # a token both start with (e.g. <unk>) decides nothing
        if not self.yes or not self.no:
            raise ConfigError(f"verifier {name_or_path}: its tokenizer starts Yes and No with the same tokens")

    def __call__(self, instructions: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        torch, tok = self.torch, self.tok
        texts = [
            tok.apply_chat_template(
                [{"role": "user", "content": VERIFY.format(x=x, y=y, rule=r)}],
                tokenize=False,
                add_generation_prompt=True,
            )
            for x, y in zip(instructions, responses)
            for r in self.rules
        ]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros(len(texts))
        with torch.no_grad():
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                enc = tok(
                    [texts[i] for i in idx],
                    return_tensors="pt",
                    padding=True,  # left padding: last = next token
                    add_special_tokens=False,
                ).to(self.model.device)
                z = self.model(**enc, logits_to_keep=1).logits[:, -1].float()
                out[idx] = (z[:, self.yes].max(1).values > z[:, self.no].max(1).values).cpu().numpy()
        return out.reshape(len(responses), len(self.rules))
