"""Iterative preference rounds on a real model (``scale=small``, ``paper.real.methods.<m>.kind: iterative``).

    π_0 = model.name_or_path ──► round 1 ──► π_1 ──► ... ──► π_T      each round t, from π_{t−1}:
        sample    π_{t−1} on the round's prompts (``engines.generate``: vLLM on a GPU, else batched ``generate``)
        label     the real judge ``cfg.judge`` as a scorer (``judge_scores``) or π_{t−1} as its own judge (``self_scores``)
        pair      the paper's rule (``training.pair_rules``, the same pure functions as the toy world's loops)
        train     ``fit.fit(cfg, π_{t−1}, pairs, method)``: DPO with reference π_{t−1}, one pass over the pairs

Rules (``rule:``): ``iterdpo`` (best vs worst of ``n`` samples by the judge), ``drift`` (chosen sampled after the user's
feedback, rejected the logged DSAT answer), ``sr`` (Self-Rewarding: best vs worst of ``n`` self-judged samples),
``tsr`` (Temporal SR: anchored rejection from π_0's samples, then a future model's chosen), ``evolve`` (best vs worst
of a self-refinement chain, a direct and a refinement DPO row each). Prompts come from ``data`` (a Hub dataset id or
a local ``save_to_disk`` dir / JSON lines), read through ``fields`` (prompt: a string or a chat message list; DRIFT's
``rejected`` and ``feedback``); ``rows_per_round`` prompts a round, a fresh slice each round when ``fresh``.
``eval_refine: J`` (EVOLVE) also judges the final model's answers after J self-refinement steps at inference
(``refine_chain``; ``runner.run`` reports them as ``<name>_refined``).

Round t is one ``core.io.cached`` stage keyed on round t−1's key (a chain from the method's key: its settings,
``scale.finetune``, the data, ``keys.stage_key``'s model, seed, versions and code, and the pair rules' code),
so a killed run resumes at its first unfinished round. Its directory holds ``model/`` (π_t), ``pairs.json`` and
``record.json`` (pair counts and the rule's statistics, the trainer's log).
"""

from __future__ import annotations

import copy
import math
import shutil
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf, open_dict
from tqdm.auto import tqdm

from ..core.config import ConfigError, to_dict
from ..core.io import atomic_write_json, cache_dir, cached, code_fingerprint, content_hash, read_json
from ..training import pair_rules
from .data import chat, messages, raw_rows, text
from .engines import generate
from .fit import fit, geometry
from .judges import judge
from .keys import id_key, stage_key
from .policy import load_policy

RULES = ("iterdpo", "drift", "sr", "tsr", "evolve")
FIELDS = {"prompt": "prompt", "rejected": "rejected", "feedback": "user_preference"}  # DRIFT card: dsat_data.jsonl
# DRIFT card, Algorithm step 3a: after the complaint, a line asks for an improved answer (our wording; the chat
# templates have no mid-conversation system turn, so it follows the feedback in the user's turn)
HINDSIGHT = "Please give an improved response to my original request that addresses this feedback."
REFINE = "Please improve your previous answer."  # EVOLVE's c_ref instruction: the template was not found (card)
# Self-Rewarding §2.1's additive 5-point LLM-as-a-Judge rubric, in our words (card §B); the judge's answer is read
# from the digit after "Score: " (``self_scores``), the justification is not written
JUDGE = (
    "Review the user's question and the response below, and score the response with an additive 5-point "
    "system. Add 1 point if it is relevant and gives some information related to the question; a 2nd if it "
    "addresses a substantial part of the question; a 3rd if it answers the basic elements of the question "
    "usefully; a 4th if it is clearly written from an AI assistant's perspective, directly and comprehensively; "
    "a 5th if it is impeccably tailored to the question, expert and engaging.\n\nQuestion: {question}\n\n"
    'Response: {response}\n\nEnd with "Score: <total points>".'
)


# ----------------------------------------------------------------------------- the PLUGINS contract
def validate(name: str, m: dict) -> None:
    where = f"paper.real.methods.{name}"
    if m.get("rule") not in RULES:
        raise ConfigError(f"{where}.rule must be one of {RULES}, got {m.get('rule')!r}")
    for k in ("data", "loss", "lr"):
        if not m.get(k):
            raise ConfigError(f"{where} (iterative) needs {k}")
    for k in ("rounds", "rows_per_round"):
        if int(m.get(k) or 0) < 1:
            raise ConfigError(f"{where}.{k} must be ≥ 1")
    if m["rule"] in ("iterdpo", "sr") and int(m.get("n") or 0) < 2:
        raise ConfigError(f"{where} ({m['rule']}) needs n ≥ 2 samples per prompt (best vs worst)")
    if m["rule"] == "tsr" and int(m.get("k") or 0) < 1:
        raise ConfigError(f"{where} (tsr) needs k ≥ 1 samples from each model")
    if m["rule"] == "evolve" and int(m.get("depth") or 0) < 1:
        raise ConfigError(f"{where} (evolve) needs depth ≥ 1 refinement steps")


def missing(cfg, m: dict) -> list[str]:
    return []  # the method's data is checked with every other dataset by preflight.require


def train(cfg, name: str, m: dict, progress: bool = False) -> Path:
    """π_T's model directory after ``m["rounds"]`` cached rounds from ``model.name_or_path``."""
    items, prev = None, str(cfg.model.name_or_path)
    for t, key in enumerate(tqdm(round_keys(cfg, m), desc=f"{name} rounds", disable=not progress, leave=False), 1):

        def compute(tmp: Path, t=t, prev=prev):
            nonlocal items
            items = items if items is not None else load_items(cfg, m)
            n = int(m["rows_per_round"])
            batch = items[(t - 1) * n : t * n] if fresh(m) else items
            pairs, stats = BUILD[m["rule"]](cfg, m, t, prev, batch, tmp)
            steps = fit_pairs(cfg, prev, pairs, m, tmp)
            atomic_write_json(tmp / "pairs.json", pairs)
            atomic_write_json(
                tmp / "record.json",
                {"round": t, "n_prompts": len(batch), "n_pairs": len(pairs["prompt"]), "steps": steps, **stats},
            )

        prev = cached("real-iterative", key, compute) / "model"
    return prev


# ----------------------------------------------------------------------------- keys, data
def fresh(m: dict) -> bool:
    """Whether each round takes new prompts (TSR §4.1's chunks; EVOLVE) or revisits the same (DRIFT's DSAT items)."""
    return bool(m.get("fresh", m["rule"] != "drift"))


def round_keys(cfg, m: dict) -> list[dict]:
    rules = content_hash(
        [
            code_fingerprint(Path(pair_rules.__file__).with_name(f))
            for f in ("pair_rules.py", "iterative.py", "self_judge.py")
        ]
    )
    trained = {k: v for k, v in m.items() if k not in ("label", "eval_refine")}  # what decides the rounds
    key = stage_key(
        cfg, "iterative", trained, to_dict(cfg.scale.finetune), to_dict(cfg.scale.sample), id_key(m["data"]), rules
    )
    keys = []
    for t in range(1, int(m["rounds"]) + 1):
        key = {"previous": key, "round": t}  # round t's key holds round t−1's: a chain from the method's key
        keys.append(key)
    return keys


def records(cfg, m: dict) -> list[dict]:
    """The finished rounds' records (``record.json``), without computing anything."""
    dirs = [cache_dir() / "real-iterative" / content_hash(k) for k in round_keys(cfg, m)]
    return [read_json(d / "record.json") for d in dirs if (d / "DONE").exists()]


def context(v) -> list[dict]:
    """A prompt as the conversation to answer: a string is one user turn; a message list (WildFeedback's history up
    to the disliked turn) is kept without a trailing assistant turn."""
    msgs = messages(v) if isinstance(v, str) else chat(v)
    return msgs[:-1] if len(msgs) > 1 and msgs[-1].get("role") == "assistant" else msgs


def load_items(cfg, m: dict) -> list[dict]:
    """The method's prompts (and DRIFT's logged answer and feedback), ``rows_per_round`` × rounds when fresh."""
    f = {**FIELDS, **(m.get("fields") or {})}
    cols = ["prompt", "rejected", "feedback"] if m["rule"] == "drift" else ["prompt"]
    need = int(m["rows_per_round"]) * (int(m["rounds"]) if fresh(m) else 1)
    ds = raw_rows(m["data"], m.get("split", "train"), need, int(cfg.seed), m.get("subset"), m.get("data_files"))
    absent = [f"{c} (field {f[c]!r})" for c in cols if f[c] not in ds.column_names]
    if absent:
        raise ConfigError(
            f"{m['data']}: no column for {', '.join(absent)}; its columns are {ds.column_names} "
            "(map them with paper.real.methods.<m>.fields)"
        )
    if len(ds) < need:
        raise ConfigError(
            f"{m['data']} has {len(ds)} rows; {m['rounds']} rounds × {m['rows_per_round']} prompts need {need}"
        )
    return [
        {
            "prompt": context(r[f["prompt"]]),
            **(
                {"rejected": text(r[f["rejected"]]), "feedback": text(r[f["feedback"]])}
                if m["rule"] == "drift"
                else {}
            ),
        }
        for r in ds
    ]


# ----------------------------------------------------------------------------- sampling and labelling
def _sample(cfg, m: dict):
    return OmegaConf.create({**to_dict(cfg.scale.sample), **(m.get("sample") or {})})


def _reseeded(cfg, offset: int):
    """The config with a derived seed: independent draws of the same model on the same prompts (TSR's M_0 vs M_i)."""
    c = copy.deepcopy(cfg)
    with open_dict(c):
        c.seed = int(cfg.seed) * 1000 + offset
    return c


def sample(cfg, m: dict, model_dir, prompts: list, *, n: int = 1, offset: int = 0, tag: str = "") -> list[list[str]]:
    return generate(_reseeded(cfg, offset), model_dir, prompts, n=n, tag=tag, sample=_sample(cfg, m))


def judge_scores(cfg, prompts: list, candidates: list[list[str]], *, tag: str) -> np.ndarray:
    """The real judge as a scorer: candidate k's P(y_k ≻ y_0) against the prompt's first candidate (0.5 for y_0). For a
    reward model this is σ(r(y_k) − r(y_0)), monotone in r(y_k). The judge sees the conversation's last user turn."""
    xs = [text(p) for p in prompts]
    first = [c[0] for c in candidates]
    cols = [np.full(len(xs), 0.5)] + [
        np.asarray(judge(cfg, xs, [c[k] for c in candidates], first, tag=f"{tag}#{k}"))
        for k in range(1, len(candidates[0]) if candidates else 0)
    ]
    return np.stack(cols, 1) if xs else np.zeros((0, 0))


def self_scores(cfg, model_dir, prompts: list, candidates: list[list[str]], *, tag: str) -> np.ndarray:
    """π's own judgment (Self-Rewarding §2.1) of each candidate: E[score] over the digits 0–5 of its next token after
    the assistant turn begins "Score: " (``self_judge.expected_scores``). DEVIATION: no justification is written first."""
    from ..training.self_judge import expected_scores

    key = stage_key(
        cfg,
        "self-judge",
        tag,
        id_key(model_dir),
        content_hash([prompts, candidates]),
        JUDGE,
        content_hash(Path(pair_rules.__file__).with_name("self_judge.py").read_text()),
    )

    def compute(tmp: Path):
        from .scorers import shared

        # one load per policy while it is scored (TSR scores M_i's, M_0's and the future's samples with M_i);
        # fit() forgets it before the next training
        model, tok = shared(
            "policy", (str(model_dir), bool(cfg.hardware.get("bf16"))), lambda: load_policy(model_dir, cfg)
        )
        model.eval()
        tok.padding_side = "left"  # the last position is the query's
        ids = [tok.encode(d, add_special_tokens=False) for d in "012345"]
        if any(len(i) != 1 for i in ids):
            raise ConfigError(
                f"{model_dir}: the tokenizer splits a digit 0–5 into several tokens; the self-judge reads one"
            )
        texts = [
            tok.apply_chat_template(
                [{"role": "user", "content": JUDGE.format(question=text(p), response=y)}],
                tokenize=False,
                add_generation_prompt=True,
            )
            + "Score: "
            for p, c in zip(prompts, candidates)
            for y in c
        ]
        bs, out = int(cfg.scale.sample.get("batch_size", 32)), []
        with torch.no_grad():
            for b in range(0, len(texts), bs):
                enc = tok(texts[b : b + bs], return_tensors="pt", padding=True, add_special_tokens=False).to(
                    model.device
                )
                out.append(
                    model(**enc, logits_to_keep=1).logits[:, -1, :].float().cpu().numpy()
                )  # the last position's only
        s = expected_scores(np.concatenate(out), [i[0] for i in ids]) if out else np.zeros(0)
        atomic_write_json(tmp / "scores.json", s.tolist())

    s = np.asarray(read_json(cached("real-self-judge", key, compute) / "scores.json"), dtype=float)
    return s.reshape(len(candidates), -1) if len(candidates) else np.zeros((0, 0))


# ----------------------------------------------------------------------------- training on a round's pairs
def fit_pairs(cfg, start, pairs: dict, m: dict, tmp: Path) -> int:
    """π_t = DPO from ``start`` on ``pairs`` (reference = ``start``) into ``tmp/model``: one pass over the pairs (the
    papers' one epoch per iteration), at most ``scale.finetune.steps`` steps. No pairs: π_t = π_{t−1}. Returns steps."""
    from datasets import Dataset

    ft = cfg.scale.finetune
    rows = [
        {
            "prompt": messages(p),
            "chosen": [{"role": "assistant", "content": c}],
            "rejected": [{"role": "assistant", "content": r}],
        }
        for p, c, r in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"])
    ]
    if not rows:
        model, tok = load_policy(start, cfg)
        model.save_pretrained(tmp / "model")
        tok.save_pretrained(tmp / "model")
        return 0
    steps = max(1, min(int(ft.steps), math.ceil(len(rows) / geometry(cfg)["effective"])))
    c = copy.deepcopy(cfg)
    with open_dict(c):
        c.scale.finetune.steps = steps
    fit(c, start, Dataset.from_list(rows), m, tmp)
    return steps


# ----------------------------------------------------------------------------- the rules' rounds
def _lengths(pairs: dict) -> dict:
    n = len(pairs["prompt"])
    return {
        "chosen_length": float(np.mean([len(y) for y in pairs["chosen"]])) if n else float("nan"),
        "rejected_length": float(np.mean([len(y) for y in pairs["rejected"]])) if n else float("nan"),
    }


def drift_round(cfg, m, t, prev, items, tmp):
    """DRIFT (card, Algorithm step 3): y⁺ ~ π_{t−1}(· | x ⊕ y⁻ ⊕ f ⊕ the ask for an improvement); pair (x, y⁺, y⁻)."""
    ask = m.get("hindsight", HINDSIGHT)
    convs = [
        it["prompt"]
        + [{"role": "assistant", "content": it["rejected"]}, {"role": "user", "content": f"{it['feedback']}\n\n{ask}"}]
        for it in items
    ]
    pos = [c[0] for c in sample(cfg, m, prev, convs, offset=t, tag="drift-hindsight")]
    pairs = pair_rules.drift_pairs(
        {"prompt": [it["prompt"] for it in items], "rejected": [it["rejected"] for it in items]}, pos
    )
    return pairs, _lengths(pairs)


def iterdpo_round(cfg, m, t, prev, items, tmp):
    """Iterative DPO: the judge's best vs worst of ``n`` samples of π_{t−1} (``pair_rules.sr_pairs``: ties dropped)."""
    xs = [it["prompt"] for it in items]
    cands = sample(cfg, m, prev, xs, n=int(m["n"]), offset=t, tag="iterdpo")
    pairs = pair_rules.sr_pairs(xs, cands, judge_scores(cfg, xs, cands, tag="iterdpo"))
    return pairs, _lengths(pairs)


def sr_round(cfg, m, t, prev, items, tmp):
    """Self-Rewarding (Yuan et al. 2024 §2.2): π_{t−1} judges its own ``n`` samples; best vs worst, ties dropped."""
    xs = [it["prompt"] for it in items]
    cands = sample(cfg, m, prev, xs, n=int(m["n"]), offset=t, tag="sr")
    scores = self_scores(cfg, prev, xs, cands, tag="sr")
    pairs = pair_rules.sr_pairs(xs, cands, scores)
    return pairs, {**_lengths(pairs), "mean_self_score": float(np.mean(scores)) if scores.size else float("nan")}


def tsr_round(cfg, m, t, prev, items, tmp):
    """Temporal SR (Algorithm 1): Phase 1, k samples of M_i = π_{t−1} and of M_0, all judged by M_i, anchored pairs;
    the future model M_f = DPO(M_i) on them; Phase 2, M_f's best sample (judged by M_i) replaces a chosen it beats."""
    k, xs = int(m["k"]), [it["prompt"] for it in items]
    cur = sample(cfg, m, prev, xs, n=k, offset=10 * t + 1, tag="tsr-current")
    past = sample(cfg, m, cfg.model.name_or_path, xs, n=k, offset=10 * t + 2, tag="tsr-past")
    p1 = pair_rules.anchored_pairs(
        xs, cur, self_scores(cfg, prev, xs, cur, tag="tsr"), past, self_scores(cfg, prev, xs, past, tag="tsr")
    )
    if not p1["prompt"]:
        return p1, {"n_pairs_phase1": 0, "rejected_from_past": float("nan"), "chosen_from_future": float("nan")}
    fit_pairs(cfg, prev, p1, m, tmp / "future")
    fut = sample(cfg, m, tmp / "future" / "model", p1["prompt"], n=k, offset=10 * t + 3, tag="tsr-future")
    pairs = pair_rules.future_guided(p1, fut, self_scores(cfg, prev, p1["prompt"], fut, tag="tsr"))
    shutil.rmtree(tmp / "future")  # M_f is discarded after the round (Algorithm 1)
    return pairs, {
        **_lengths(pairs),
        "n_pairs_phase1": len(p1["prompt"]),
        "rejected_from_past": float(np.mean([r == "past" for r in pairs["rejected_from"]])),
        "chosen_from_future": float(np.mean([c == "future" for c in pairs["chosen_from"]])),
    }


def refine_context(x: list[dict], y: str, ask: str = REFINE) -> list[dict]:
    """EVOLVE's c_ref(x, y) as chat turns: the conversation, the previous answer, a user turn asking to improve it."""
    return list(x) + [{"role": "assistant", "content": y}, {"role": "user", "content": ask}]


def refine_chain(
    cfg, model_dir, xs: list, ys: list[str], m: dict, *, tag: str = "", progress: bool = False
) -> list[str]:
    """Self-refinement at inference (EVOLVE card, Inference) for a method with ``eval_refine: J``: y^{j+1} ~
    π(·|c_ref(x, y^j)) from the direct answers y⁰ = ``ys``, decoded as the evaluation (``scale.sample``); returns y^J."""
    ask = m.get("refine", REFINE)
    for j in range(1, int(m["eval_refine"]) + 1):
        ys = [
            o[0]
            for o in generate(
                cfg,
                model_dir,
                [refine_context(messages(x), y, ask) for x, y in zip(xs, ys)],
                tag=f"{tag}-refine-{j}",
                progress=progress,
            )
        ]
    return ys


def evolve_round(cfg, m, t, prev, items, tmp):
    """EVOLVE (card, Data collection (a)): a self-refinement chain y⁰ ~ π(·|x), y^{j+1} ~ π(·|c_ref(x, y^j)), scored by
    the judge; best vs worst of the chain as a direct and a refinement DPO row (``pair_rules.refine_pairs``)."""
    ask, xs = m.get("refine", REFINE), [it["prompt"] for it in items]
    ys = [c[0] for c in sample(cfg, m, prev, xs, offset=10 * t, tag="evolve-0")]
    chains = [[y] for y in ys]
    for j in range(1, int(m["depth"]) + 1):
        ys = [
            c[0]
            for c in sample(
                cfg, m, prev, [refine_context(x, y, ask) for x, y in zip(xs, ys)], offset=10 * t + j, tag=f"evolve-{j}"
            )
        ]
        for ch, y in zip(chains, ys):
            ch.append(y)
    scores = judge_scores(cfg, xs, chains, tag="evolve")
    pairs = pair_rules.refine_pairs(xs, chains, scores, lambda x, y: refine_context(x, y, ask))
    return pairs, {**_lengths(pairs), "chain_score": np.nanmean(scores, 0).tolist() if scores.size else []}


BUILD = {"iterdpo": iterdpo_round, "drift": drift_round, "sr": sr_round, "tsr": tsr_round, "evolve": evolve_round}
