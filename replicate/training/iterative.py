"""One iterative on-policy preference loop, shared by the papers that train a policy in rounds on data it
generates itself (DRIFT, Temporal Self-Rewarding, EVOLVE, iterative DPO, SPIN on the LM world).

    π_0 ──► round 1 ──► π_1 ──► round 2 ──► π_2 ...      each round t, from π_{t−1}:
            build_pairs(ctx)      the paper's part: sample from π_{t−1} (``ctx.sample``), label (``judge_scores``,
                                  ``oracle_scores``, the policy as its own judge, or logged data), apply its pair rule
            train_round(...)      DPO/SimPO through the one TRL hook (``trl_hook.PreferenceTrainer``), reference = π_{t−1}
            round_metrics(...)    oracle quality, judge WR and LC WR vs the reference policy, diversity of high-quality
                                  answers (``evaluate_round``), and on the round's pairs the chosen–rejected margins and
                                  the DPO gradient norm at the round's start

How a paper plugs in: write a *pair builder* ``build(ctx: RoundContext) -> pairs`` where ``pairs`` is a dict of
equal-length lists with at least ``prompt``, ``chosen``, ``rejected`` (strings; ``prompt`` is the training prompt, which
may differ from the prompt the samples were drawn for, e.g. EVOLVE's refinement context c_ref(x, y_l)); any other
list column (``q_chosen``, ``term``, ...) is kept with the pairs, a ``task_prompt`` column names the toy-world prompt x
the oracle scores the answers against when ``prompt`` is a context built on it (default: ``prompt`` itself), and a
``term`` column splits the per-round pair statistics by DPO term (several DPO terms per round = one DPO over their union, each term weighted by its size).
The pair rule itself is a small pure function citing its algorithm step (``best_vs_worst``, ``spin_pairs`` below;
a paper's own in its module). Then call ``run_loop(cfg, world, name=..., start=Start(key, load), build=build,
train=TrainSpec(...), evals=EvalSpec(...), rounds=T, key_parts=(...), code=("papers/<p>.py",))``. Inside a round
the builder can call every stage itself: ``ctx.sample`` on any conversation (multi-turn prompts: DRIFT's hindsight
x ⊕ y⁻ ⊕ f), ``train_round`` to train a temporary model from π_{t−1} (Temporal Self-Rewarding's "future" model),
``ctx.start_model()`` for π_0 (a fixed anchor pool of rejected answers from M_0), ``ctx.previous(k)`` for an earlier
round's saved pairs, and ``ctx.out`` to save extra artifacts with the round.

Caching and resume: round t is one ``core.io.cached`` stage keyed on round t−1's key (a chain from the start model's
key), the train/eval specs, the paper's ``key_parts`` and the code hash of this module, the shared stages and the
paper's ``code`` files. Its directory holds ``model/`` (π_t), ``pairs.json`` and ``record.json`` (metrics, TRL log
history, the reference log-probs the trainer used). A killed run resumes at the first round without a finished
directory, loading π_{t−1} from the previous round's directory; nothing is kept in memory between rounds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.config import ConfigError
from ..core.io import atomic_write_json, cached, content_hash, read_json
from ..metrics.evaluation import evaluate_policy, sequence_logps
from ..worlds.toy_lm import Judge, oracle_quality
from .data import preference_dataset
from .toy_stages import World, load_policy, stage_key
from .trl_internals import clear_metrics

_CODE = ("training/iterative.py",)
REQUIRED = ("prompt", "chosen", "rejected")
TASK_PROMPT = (
    "task_prompt"  # optional pair column: the toy-world prompt x the oracle scores against (default ``prompt``)
)


# ---------------------------------------------------------------------------------------------
# Specs (everything in them is part of a round's cache key)


@dataclass(frozen=True)
class TrainSpec:
    """One round's preference training through the TRL hook (``trl_hook.PreferenceTrainer``)."""

    loss: str = "dpo"
    loss_kwargs: dict = field(default_factory=lambda: {"beta": 0.1})
    lr: float = 1e-4
    batch_size: int = 32
    epochs: float = 1.0
    max_steps: int | None = None
    scheduler: str = "cosine"  # TRL/transformers lr_scheduler_type; 10 % warm-up either way


@dataclass(frozen=True)
class EvalSpec:
    """Per-round evaluation: ``n_eval`` of the world's evaluation prompts against the reference policy; diversity
    from ``n_diverse`` samples on the first ``diverse_prompts`` of them; pair diagnostics on ≤ ``pair_probe`` pairs."""

    n_eval: int = 1024
    temperature: float = 0.7
    max_new_tokens: int = 48
    n_diverse: int = 4
    diverse_prompts: int = 256
    diverse_temperature: float = 1.0
    q_high: float = 0.9
    pair_probe: int = 256


@dataclass(frozen=True)
class Start:
    """π_0: a content key (e.g. ``toy_stages.sft_key(cfg)``) and a loader of the model it names."""

    key: dict
    load: Callable[[], object]


# ---------------------------------------------------------------------------------------------
# Stage 1: sampling (single- or multi-turn conversations)


def render(tokenizer, conversation) -> str:
    """A prompt string (one user turn) or a list of chat messages → the generation prompt text."""
    msgs = [{"role": "user", "content": conversation}] if isinstance(conversation, str) else list(conversation)
    if not msgs or msgs[-1]["role"] != "user":
        raise ValueError("a conversation to answer must end with a user turn")
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


@torch.no_grad()
def sample(
    model,
    tokenizer,
    conversations: Sequence,
    *,
    n: int = 1,
    temperature: float = 0.7,
    top_p: float = 1.0,
    max_new_tokens: int = 48,
    seed: int = 0,
    batch_size: int = 256,
) -> list[list[str]]:
    """``n`` responses per conversation, ``[[y_1..y_n] per conversation]``, seeded per batch.

    Same seeding as ``models.sampling.generate`` (which takes single-turn prompts only): for single-turn prompts the
    two give identical responses (tests/test_iterative.py)."""
    model.eval()
    texts = [render(tokenizer, c) for c in conversations]
    flat = [t for t in texts for _ in range(n)]
    limit = tokenizer.model_max_length
    out: list[str] = []
    for k, i in enumerate(range(0, len(flat), batch_size)):
        enc = tokenizer(flat[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        if enc["input_ids"].shape[1] + max_new_tokens > limit:
            raise ValueError(
                f"conversation of {enc['input_ids'].shape[1]} tokens + {max_new_tokens} new exceeds the "
                f"model's {limit}"
            )
        torch.manual_seed(seed * 100003 + k)
        kw = dict(do_sample=True, temperature=temperature, top_p=top_p) if temperature > 0 else dict(do_sample=False)
        gen = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            use_cache=True,
            **kw,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return [out[j * n : (j + 1) * n] for j in range(len(conversations))]


# ---------------------------------------------------------------------------------------------
# Stage 2: labellers — (prompts, candidates) → scores (prompts × candidates), higher is better


def judge_scores(judge: Judge, prompts: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    """The toy judge's round-robin score (PairRM-style, both presentation orders; ``Judge.rank``)."""
    return np.array([judge.rank(p, c) for p, c in zip(prompts, candidates)])


def oracle_scores(prompts: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    """The truth q(x, y): only for controls and measurements, never a method's labeller unless a paper says so."""
    return np.array([[oracle_quality(p, y) for y in c] for p, c in zip(prompts, candidates)])


# ---------------------------------------------------------------------------------------------
# Stage 3: pair rules shared by several papers (pure functions; a paper's own rule lives in its module)


def best_vs_worst(prompts: Sequence[str], candidates: Sequence[Sequence[str]], scores) -> dict:
    """Iterative DPO / Self-Rewarding (Yuan et al. 2024, §2.2 "Instruction following training": the highest- and
    lowest-scoring of the N responses form the pair; prompts whose best and worst tie are dropped)."""
    out = {k: [] for k in REQUIRED}
    for p, c, s in zip(prompts, candidates, np.asarray(scores, dtype=float)):
        order = np.argsort(-s, kind="stable")
        hi, lo = int(order[0]), int(order[-1])
        if s[hi] == s[lo] or c[hi] == c[lo]:
            continue
        out["prompt"].append(p), out["chosen"].append(c[hi]), out["rejected"].append(c[lo])
    return out


def spin_pairs(prompts: Sequence[str], real: Sequence[str], samples: Sequence[str]) -> dict:
    """SPIN (Chen et al. 2024, Algorithm 1): chosen = the human/SFT response y ~ p_data(·|x), rejected = the
    current policy's own response y' ~ π_t(·|x); pairs where the two coincide carry no signal and are dropped."""
    out = {k: [] for k in REQUIRED}
    for p, y, y2 in zip(prompts, real, samples):
        if y != y2:
            out["prompt"].append(p), out["chosen"].append(y), out["rejected"].append(y2)
    return out


def validate_pairs(pairs: dict) -> int:
    """Number of pairs; raises ValueError on missing columns, ragged lengths, non-strings or an empty set."""
    missing = [k for k in REQUIRED if k not in pairs]
    if missing:
        raise ValueError(f"pairs need columns {REQUIRED}; missing {missing}")
    n = len(pairs["prompt"])
    if n == 0:
        raise ValueError("a round produced no pairs")
    bad = [k for k, v in pairs.items() if len(v) != n]
    if bad:
        raise ValueError(f"pair columns {bad} have a different length than prompt ({n})")
    if not all(isinstance(x, str) for k in REQUIRED for x in pairs[k]):
        raise ValueError("prompt, chosen and rejected must be strings")
    return n


# ---------------------------------------------------------------------------------------------
# Stage 4: one round of preference training, reference = the policy it starts from


def round_trainer(policy, tokenizer, pairs: dict, hw, spec: TrainSpec, seed: int, out: Path):
    """The TRL trainer of one round, built but not run: reference = ``policy`` (its log-probs precomputed), the loss
    of ``spec`` through the preference hook. ``train_round`` runs it; a notebook probes it (``dpo_grad_norm``)."""
    from trl import DPOConfig

    from .run_logs import without_printer
    from .trl_hook import PreferenceTrainer, common_args, quiet_libraries

    quiet_libraries()

    args = DPOConfig(
        **common_args(
            hw,
            seed=seed,
            lr=spec.lr,
            batch_size=spec.batch_size,
            output_dir=str(out / "trainer"),
            max_steps=spec.max_steps,
            epochs=spec.epochs,
            warmup=0.1,
            scheduler=spec.scheduler,
        ),
        precompute_ref_log_probs=True,
        precompute_ref_batch_size=256,
        max_length=tokenizer.model_max_length,
        beta=float(spec.loss_kwargs.get("beta", 0.1)),
    )
    ds = preference_dataset({k: pairs[k] for k in REQUIRED})
    # precompute with no ref_model: TRL computes the reference log-probs with the policy itself before the first
    # step, so the reference is exactly π_{t−1} (the alignment-handbook default DRIFT and SPIN use) and no copy is kept
    trainer = PreferenceTrainer(
        model=policy,
        args=args,
        train_dataset=ds,
        processing_class=tokenizer,
        loss=spec.loss,
        loss_kwargs=dict(spec.loss_kwargs),
    )
    return without_printer(trainer)


def dpo_grad_norm(trainer, n: int, batch_size: int = 64) -> float:
    """‖∇_θ L‖ of the mean loss over the first ``n`` pairs at the trainer's current weights (before training: θ =
    π_{t−1} = reference, where DPO's gradient is β/2 · ∇[log π(y⁺|x) − log π(y⁻|x)]). Gradients are cleared after."""
    from torch.utils.data import DataLoader

    ds = trainer.train_dataset.select(range(min(n, len(trainer.train_dataset))))
    model = trainer.model
    model.zero_grad(set_to_none=True)
    total = len(ds)
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=trainer.data_collator):
        loss = trainer.compute_loss(model, batch)
        (loss * (len(batch["ref_chosen_logps"]) / total)).backward()
    sq = sum(float((p.grad.detach() ** 2).sum()) for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)
    clear_metrics(trainer, "eval")  # the probe's forward passes are no training metrics
    return float(np.sqrt(sq))


def train_round(policy, tokenizer, pairs: dict, hw, spec: TrainSpec, *, seed: int, out: Path, grad_probe: int = 0):
    """π_t = preference training of ``policy`` (π_{t−1}, also the reference) on ``pairs`` (TRL hook). Trains ``policy``
    in place (pass a copy to keep it; ``RoundContext.train_temporary`` does).

    Returns (π_t, info): info has TRL's ``history``, the reference log-probs the trainer used (``ref_chosen_logps``,
    ``ref_rejected_logps``: the hand-off check) and, with ``grad_probe`` > 0, ``grad_norm`` at the round's start."""
    validate_pairs(pairs)
    trainer = round_trainer(policy, tokenizer, pairs, hw, spec, seed, out)
    info = {
        "ref_chosen_logps": [float(x) for x in trainer.train_dataset["ref_chosen_logps"]],
        "ref_rejected_logps": [float(x) for x in trainer.train_dataset["ref_rejected_logps"]],
    }
    if grad_probe:
        info["grad_norm"] = dpo_grad_norm(trainer, grad_probe)
    trainer.train()
    info["history"] = list(trainer.state.log_history)
    model = trainer.model
    model.eval()
    return model, info


# ---------------------------------------------------------------------------------------------
# Stage 5: per-round measurements


def distinct_high_quality(prompts: Sequence[str], candidates: Sequence[Sequence[str]], q_high: float) -> np.ndarray:
    """Per prompt: the number of distinct responses with oracle quality ≥ ``q_high`` (DRIFT card: exploration)."""
    return np.array(
        [len({y for y in c if oracle_quality(p, y) >= q_high}) for p, c in zip(prompts, candidates)], dtype=float
    )


def evaluate_round(model, world: World, evals: EvalSpec, *, seed: int) -> dict:
    """``metrics.evaluation.evaluate_policy`` on the evaluation prompts (judge WR, LC WR vs the reference policy,
    oracle quality, length, per-prompt arrays) plus the diversity of high-quality responses."""
    ps, ref = world.prompts["eval"][: evals.n_eval], world.reference["eval"][: evals.n_eval]
    if len(ps) < evals.n_eval:
        raise ConfigError(f"n_eval={evals.n_eval} but the world has {len(ps)} evaluation prompts")
    out = evaluate_policy(
        model,
        world.tokenizer,
        world.judge,
        ps,
        ref,
        temperature=evals.temperature,
        max_new_tokens=evals.max_new_tokens,
        seed=seed,
    )
    dp = ps[: evals.diverse_prompts]
    cands = sample(
        model,
        world.tokenizer,
        dp,
        n=evals.n_diverse,
        temperature=evals.diverse_temperature,
        max_new_tokens=evals.max_new_tokens,
        seed=seed + 1,
    )
    d = distinct_high_quality(dp, cands, evals.q_high)
    out["distinct_high_quality"] = d.tolist()
    out["diversity"] = float(d.mean())
    return out


def pair_stats(pairs: dict, policy, reference, tokenizer, *, beta: float, probe: int) -> dict:
    """The round's pairs: their oracle-quality margin q(y⁺) − q(y⁻) (all pairs; q against ``task_prompt`` if given), and on the first ``probe`` pairs the
    log-likelihood margin under the reference (π_{t−1}) and the implicit DPO reward margin
    β[(log π_t − log π_{t−1})(y⁺) − (log π_t − log π_{t−1})(y⁻)] after training."""
    P, C, R = pairs["prompt"], pairs["chosen"], pairs["rejected"]
    X = pairs.get(TASK_PROMPT, P)  # the task the answers are for, when the training prompt is a context built on it
    q_margin = [oracle_quality(x, c) - oracle_quality(x, r) for x, c, r in zip(X, C, R)]
    k = min(probe, len(P))
    lc, nc = sequence_logps(policy, tokenizer, P[:k], C[:k])
    lr, nr = sequence_logps(policy, tokenizer, P[:k], R[:k])
    rc, _ = sequence_logps(reference, tokenizer, P[:k], C[:k])
    rr, _ = sequence_logps(reference, tokenizer, P[:k], R[:k])
    out = {
        "n_pairs": len(P),
        "q_margin": q_margin,
        "q_margin_mean": float(np.mean(q_margin)),
        "q_chosen_mean": float(np.mean([oracle_quality(x, c) for x, c in zip(X, C)])),
        "q_rejected_mean": float(np.mean([oracle_quality(x, r) for x, r in zip(X, R)])),
        "len_chosen_mean": float(np.mean([len(c) for c in C])),
        "len_rejected_mean": float(np.mean([len(r) for r in R])),
        "ref_logp_margin": float(np.mean(rc / nc - rr / nr)),
        "reward_margin": float(np.mean(beta * ((lc - rc) - (lr - rr)))),
        "reward_accuracy": float(np.mean((lc - rc) - (lr - rr) > 0)),
    }
    if "term" in pairs:
        terms = np.asarray(pairs["term"])
        out["q_margin_by_term"] = {
            str(t): float(np.mean(np.asarray(q_margin)[terms == t])) for t in dict.fromkeys(pairs["term"])
        }
    return out


# ---------------------------------------------------------------------------------------------
# The loop


@dataclass
class RoundContext:
    """What a pair builder sees in round t (making π_t from ``policy`` = π_{t−1})."""

    t: int
    policy: object
    world: World
    cfg: object
    seed: int  # this round's seed: derive every draw of the round from it
    out: Path  # the round's (temporary) cache directory: extra artifacts saved here are kept
    start: Start
    round_dirs: dict  # {k: finished directory of round k < t}
    train: TrainSpec
    progress: Callable[[str], None] = lambda stage: None

    @property
    def tokenizer(self):
        return self.world.tokenizer

    def sample(
        self,
        conversations,
        *,
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        seed_offset: int = 0,
        model=None,
    ) -> list[list[str]]:
        """``sample`` from π_{t−1} (or ``model``), seeded from the round's seed."""
        self.progress("sample")
        return sample(
            model if model is not None else self.policy,
            self.tokenizer,
            conversations,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=self.seed + seed_offset,
        )

    def start_model(self):
        """π_0 (loaded afresh)."""
        return self.start.load()

    def train_temporary(self, pairs: dict, spec: TrainSpec | None = None, name: str = "temporary"):
        """A model trained within the round from a *copy* of π_{t−1} (reference = π_{t−1}) on ``pairs``, e.g. Temporal
        Self-Rewarding's "future" model; ``ctx.policy`` is left untouched. Returns (model, info) as ``train_round``."""
        self.progress(f"train {name}")
        return train_round(
            copy.deepcopy(self.policy),
            self.tokenizer,
            pairs,
            self.cfg.hardware,
            spec or self.train,
            seed=self.seed + 11,
            out=self.out / name,
        )

    def previous(self, k: int) -> dict:
        """Round k's saved pairs (k < t)."""
        return read_json(self.round_dirs[k] / "pairs.json")


Builder = Callable[[RoundContext], dict]


def round_keys(
    cfg,
    *,
    name: str,
    start: Start,
    train: TrainSpec,
    evals: EvalSpec,
    rounds: int,
    key_parts: tuple = (),
    code: tuple = (),
) -> list[dict]:
    """Cache keys of rounds 1..T: round t's key names round t−1's (a chain from π_0's key)."""
    prev = content_hash(start.key)
    keys = []
    for t in range(1, rounds + 1):
        k = stage_key(
            cfg, "iter-round", name, t, prev, asdict(train), asdict(evals), list(key_parts), code=_CODE + tuple(code)
        )
        keys.append(k)
        prev = content_hash(k)
    return keys


def start_record(cfg, world: World, start: Start, evals: EvalSpec, *, code: tuple = ()) -> dict:
    """Round 0: π_0's evaluation (cached)."""
    key = stage_key(cfg, "iter-start", content_hash(start.key), asdict(evals), code=_CODE + tuple(code))

    def compute(tmp: Path):
        atomic_write_json(
            tmp / "record.json", {"t": 0, "eval": evaluate_round(start.load(), world, evals, seed=int(cfg.seed) + 17)}
        )

    return read_json(cached("iter-start", key, compute) / "record.json")


def run_loop(
    cfg,
    world: World,
    *,
    name: str,
    start: Start,
    build: Builder,
    train: TrainSpec,
    evals: EvalSpec,
    rounds: int,
    key_parts: tuple = (),
    code: tuple = (),
    progress: bool = True,
) -> list[dict]:
    """Rounds 1..``rounds`` from π_0 (``start``), each cached (resumable); returns the records of rounds 0..T.

    Record t (t ≥ 1): ``eval`` (``evaluate_round`` of π_t), ``pairs`` (``pair_stats``), ``grad_norm`` (DPO gradient
    norm on the round's first ``evals.pair_probe`` pairs at π_{t−1}), ``history`` (TRL), ``extras`` (whatever the
    builder returned under the key ``_extras``: a dict of JSON values), and ``ref_logps_check`` (mean reference
    log-prob of the chosen answers as the trainer saw it). ``round_dir(records, t)`` gives the cached directory."""
    if rounds < 1:
        raise ConfigError(f"rounds must be ≥ 1, got {rounds}")
    keys = round_keys(
        cfg, name=name, start=start, train=train, evals=evals, rounds=rounds, key_parts=key_parts, code=code
    )
    records = [start_record(cfg, world, start, evals, code=code)]
    dirs: dict = {}
    bar = tqdm(range(1, rounds + 1), desc=f"{name} (seed {int(cfg.seed)})", disable=not progress, leave=False)
    for t in bar:

        def stage(s: str, t=t):
            bar.set_postfix_str(f"round {t}: {s}")

        def compute(tmp: Path, t=t):
            load_prev = (lambda: start.load()) if t == 1 else (lambda: load_policy(dirs[t - 1] / "model"))
            rseed = int(cfg.seed) * 1000 + 100 * t
            ctx = RoundContext(t, load_prev(), world, cfg, rseed, tmp, start, dict(dirs), train, stage)
            pairs = build(ctx)
            extras = pairs.pop("_extras", {}) if isinstance(pairs, dict) else {}
            validate_pairs(pairs)
            atomic_write_json(tmp / "pairs.json", pairs)
            policy = load_prev()  # π_{t−1} afresh: the hand-off holds even if the builder changed ctx.policy
            reference = copy.deepcopy(policy).eval()
            stage("train")
            model, info = train_round(
                policy, world.tokenizer, pairs, cfg.hardware, train, seed=rseed, out=tmp, grad_probe=evals.pair_probe
            )
            stage("evaluate")
            rec = {
                "t": t,
                "name": name,
                "eval": evaluate_round(model, world, evals, seed=int(cfg.seed) + 17),
                "pairs": pair_stats(
                    pairs,
                    model,
                    reference,
                    world.tokenizer,
                    beta=float(train.loss_kwargs.get("beta", 0.1)),
                    probe=evals.pair_probe,
                ),
                "grad_norm": info["grad_norm"],
                "history": info["history"],
                "extras": extras,
                "ref_logps_check": float(np.mean(info["ref_chosen_logps"])),
            }
            model.save_pretrained(tmp / "model")
            world.tokenizer.save_pretrained(tmp / "model")
            atomic_write_json(tmp / "record.json", rec)

        stage("cached?")
        dirs[t] = cached("iter-round", keys[t - 1], compute)
        records.append({**read_json(dirs[t] / "record.json"), "dir": str(dirs[t])})
    bar.close()
    return records


def round_model(records: list[dict], t: int):
    """π_t from a ``run_loop`` result (t ≥ 1)."""
    return load_policy(Path(records[t]["dir"]) / "model")
