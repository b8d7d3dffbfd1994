"""Online RL in the toy world through TRL's own ``GRPOTrainer``, with the reward as a plain Python function.

No RL loop is written here: TRL samples the group of completions, calls the reward functions, computes the
group-normalised advantages, the KL to the reference and the clipped policy loss. This module only

* turns a *score* (any ``(prompts, responses) -> array``: a reward model, the oracle, a rule verifier) and an
  optional *shaping* (``training.shaping``: PAR, centering, clipping, ...) into one TRL reward function
  (``reward_function``), which also logs what the proxy said before shaping, the oracle's quality of the same
  rollouts and their length through TRL's own ``log_metric``;
* builds the prompt dataset (``rl_dataset``; extra per-prompt columns such as PAR's reference rewards travel
  with each prompt to the reward functions);
* runs ``GRPOTrainer`` (``train_grpo``) and records per-step curves with a ``TrainerCallback`` (``RLCurves``):
  from TRL's logs (proxy reward, shaped reward, oracle quality of the rollouts, KL to the reference, length) and,
  every ``eval_every`` steps, a held-out evaluation (``HeldOutEval``: proxy, oracle, the judge's win rate against
  the starting policy, a sequence-level KL estimate, length) run with the RNG state saved and restored, so
  evaluating never changes the training trajectory.

How a paper plugs in its reward (PAR, AutoRule, ...)::

    score = rm_score(rm, tokenizer)                          # or oracle_score, or a rule verifier
    fn = reward_function(score, shaping=my_shaping, name="par")          # my_shaping(r, batch) -> shaped r
    ds = rl_dataset(prompts, columns={"ref_rewards": refs})            # batch.columns["ref_rewards"] in shaping
    model, curves = train_grpo(policy, tokenizer, ds, [fn], cfg.hardware, GRPOSettings(...), out=tmp,
                               evaluator=HeldOutEval(...), eval_every=10)

Several reward functions (e.g. AutoRule's RM reward plus rule reward) go in one list with ``weights``; TRL sums
them before normalising per group. Caching is the caller's: a paper keys its RL stage with
``toy_stages.stage_key`` (adding ``CODE`` below to the code hash).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import TrainerCallback

from ..worlds.toy_lm import Judge, oracle_quality
from .run_logs import without_printer
from .trl_hook import common_args, quiet_libraries
from .trl_internals import with_reference_path

# The modules whose code determines an RL stage's output (for a paper's stage_key(code=...)).
CODE = (
    "training/rl.py",
    "training/toy_reward.py",
    "models/reward.py",
    "models/token_reward.py",
    "training/reward.py",
    "training/shaping.py",
)

Score = Callable[[Sequence[str], Sequence[str]], np.ndarray]


@dataclass
class ShapingBatch:
    """What a shaping sees besides the raw scores: the rollouts of one generation batch, in TRL's order
    (``num_generations`` consecutive completions per prompt)."""

    prompts: list[str]  # the toy prompts (``"sort:abc"``)
    responses: list[str]  # decoded completions
    lengths: np.ndarray  # completion length in tokens, end-of-turn included (TRL's completion_ids)
    columns: dict = field(default_factory=dict)  # extra dataset columns per row (e.g. "ref_rewards": list of M)
    step: int = 0  # the trainer's global step (for schedules)


Shaping = Callable[[np.ndarray, ShapingBatch], np.ndarray]


def rm_score(rm, tokenizer, batch_size: int = 512) -> Score:
    """r(x, y) from a scalar-head reward model (``models.reward.reward_scores``), as a plain function."""
    from ..models.reward import reward_scores

    def score(prompts, responses):
        return np.asarray(reward_scores(rm, tokenizer, list(prompts), list(responses), batch_size), dtype=float)

    return score


def oracle_score(prompts, responses) -> np.ndarray:
    """The toy world's truth q(x, y) ∈ [0, 1] as a score (an RL run against it is the no-hacking ceiling)."""
    return np.array([oracle_quality(p, y) for p, y in zip(prompts, responses)], dtype=float)


def _content(c) -> str:
    return c[0]["content"] if isinstance(c, list) else str(c)


def reward_function(
    score: Score, *, shaping: Shaping | None = None, name: str = "proxy", log: bool = True
) -> Callable:
    """A TRL reward function (``reward_funcs=[...]``): ``shaping(score(x, y), batch)`` per completion.

    Logged per step through TRL's ``log_metric`` (so they land in ``trainer.state.log_history``):
    ``<name>/raw`` the score before shaping, ``<name>/shaped``, and once per function ``oracle/quality`` and
    ``length/chars`` of the same rollouts. TRL itself logs ``rewards/<name>/mean`` (= shaped), ``kl`` and
    ``completions/mean_length`` (tokens).
    """

    def fn(prompts, completions, completion_ids=None, task=None, trainer_state=None, log_metric=None, **columns):
        if task is None:
            raise ValueError("the RL dataset needs a 'task' column with the toy prompt (use rl_dataset)")
        responses = [_content(c) for c in completions]
        raw = np.asarray(score(task, responses), dtype=float)
        out = raw
        if shaping is not None:
            lengths = np.array(
                [len(c) for c in completion_ids] if completion_ids is not None else [len(r) + 1 for r in responses],
                dtype=float,
            )
            cols = {k: v for k, v in columns.items() if k not in ("log_extra", "environments")}
            batch = ShapingBatch(
                list(task),
                responses,
                lengths,
                cols,
                int(trainer_state.global_step) if trainer_state is not None else 0,
            )
            out = np.asarray(shaping(raw, batch), dtype=float)
            if out.shape != raw.shape:
                raise ValueError(f"shaping {shaping!r} returned shape {out.shape} for {raw.shape} rewards")
        if log and log_metric is not None:
            log_metric(f"{name}/raw", float(raw.mean()))
            log_metric(f"{name}/shaped", float(out.mean()))
            log_metric("oracle/quality", float(oracle_score(task, responses).mean()))
            log_metric("length/chars", float(np.mean([len(r) for r in responses])))
        return out.tolist()

    fn.__name__ = name  # TRL names the logged reward column after the function
    return fn


def rl_dataset(prompts: Sequence[str], columns: dict | None = None) -> Dataset:
    """TRL's conversational prompt format plus ``task`` (the toy prompt) and any per-prompt ``columns``."""
    from ..worlds.tokenizer import chat

    d = {"prompt": [chat(p) for p in prompts], "task": list(prompts)}
    for k, v in (columns or {}).items():
        if len(v) != len(prompts):
            raise ValueError(f"column {k!r} has {len(v)} rows for {len(prompts)} prompts")
        d[k] = list(v)
    return Dataset.from_dict(d)


# ---------------------------------------------------------------------------------------------
# Held-out evaluation and the per-step curves


@dataclass
class HeldOutEval:
    """Evaluate a policy on fixed held-out prompts: one sample per prompt with a fixed seed, scored by the proxy
    (before shaping), the oracle and the judge against ``baseline`` (the starting policy's responses to the same
    prompts: PAR's "win rate against the SFT model"), with ``KL(π‖π_ref)`` estimated on the samples as the mean of
    Σ_t log π(y_t|·) − log π_ref(y_t|·) (the sequence-level Monte-Carlo estimator, unbiased for the KL)."""

    tokenizer: object
    prompts: list[str]
    score: Score
    judge: Judge
    baseline: list[str]
    ref_model: object
    temperature: float
    max_new_tokens: int
    seed: int = 0

    def __call__(self, model) -> dict:
        from ..metrics.evaluation import judge_against_reference, sequence_logps
        from ..models.sampling import generate

        ys = [
            r[0]
            for r in generate(
                model,
                self.tokenizer,
                self.prompts,
                temperature=self.temperature,
                max_new_tokens=self.max_new_tokens,
                seed=self.seed,
            )
        ]
        lp, _ = sequence_logps(model, self.tokenizer, self.prompts, ys)
        lr, _ = sequence_logps(self.ref_model, self.tokenizer, self.prompts, ys)
        q = oracle_score(self.prompts, ys)
        proxy = np.asarray(self.score(self.prompts, ys), dtype=float)
        win = judge_against_reference(self.judge, self.prompts, ys, self.baseline)
        return {
            "proxy": float(proxy.mean()),
            "oracle": float(q.mean()),
            "win_rate": float(win.mean()),
            "kl": float(np.mean(lp - lr)),
            "length": float(np.mean([len(y) for y in ys])),
            "per_prompt": {"proxy": proxy.tolist(), "oracle": q.tolist(), "win": win.tolist()},
            "responses": ys,
        }


TRAIN_KEYS = {
    "kl": "kl",
    "length_tokens": "completions/mean_length",
    "length": "length/chars",
    "oracle": "oracle/quality",
    "reward": "reward",
}


class RLCurves(TrainerCallback):
    """Per-step curves of an RL run, read from TRL's own logs (``logging_steps=1``), plus a held-out evaluation
    every ``eval_every`` optimizer steps (and at step 0). ``train`` rows: step, reward (the summed shaped reward
    TRL optimises), ``<name>/raw`` and ``<name>/shaped`` of every reward function, oracle quality of the rollouts,
    kl (TRL's k3 estimate per token), length in tokens and characters. ``eval`` rows: ``HeldOutEval``'s dict."""

    def __init__(self, evaluator: HeldOutEval | None = None, eval_every: int = 0):
        self.evaluator, self.eval_every = evaluator, int(eval_every)
        self.train: list[dict] = []
        self.eval: list[dict] = []

    def _evaluate(self, model, step: int) -> None:
        # Sampling reseeds torch's global RNG: keep the trainer's stream as it was, so that evaluating (or how
        # often) never changes the run.
        state, was_training = torch.get_rng_state(), model.training
        try:
            row = self.evaluator(model)
        finally:
            torch.set_rng_state(state)
            model.train(was_training)
        self.eval.append({"step": int(step), **row})

    def on_train_begin(self, args, state, control, model=None, **kw):
        if self.evaluator is not None and self.eval_every:
            self._evaluate(model, 0)

    def on_step_end(self, args, state, control, model=None, **kw):
        if self.evaluator is not None and self.eval_every and state.global_step % self.eval_every == 0:
            self._evaluate(model, state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        if not logs or "reward" not in logs:
            return
        row = {"step": int(state.global_step)}
        row.update({k: float(logs[v]) for k, v in TRAIN_KEYS.items() if v in logs})
        row.update({k: float(v) for k, v in logs.items() if k.endswith("/raw") or k.endswith("/shaped")})
        self.train.append(row)

    def as_dict(self) -> dict:
        return {"train": self.train, "eval": self.eval}


# ---------------------------------------------------------------------------------------------
# The run


@dataclass(frozen=True)
class GRPOSettings:
    """What ``train_grpo`` passes to ``GRPOConfig``. One optimizer step per generation batch of
    ``prompts_per_step × num_generations`` completions (TRL's default ``steps_per_generation = 1``)."""

    lr: float
    beta: float  # KL coefficient (TRL adds β·k3 inside the loss, as PAR's GRPO does)
    num_generations: int  # group size G
    prompts_per_step: int
    steps: int
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 48
    loss_type: str = "grpo"  # TRL's per-sequence mean (GRPO paper); TRL's default is "dapo"
    scale_rewards: str = "group"  # advantage = group z-score (PAR's GRPO)
    epsilon: float = 0.2  # clip
    warmup: float = 0.0  # warmup steps (fraction if < 1, as TrainingArguments reads it)
    scheduler: str = "constant"
    max_grad_norm: float = 1.0

    def __post_init__(self):
        if self.num_generations < 2:
            raise ValueError("GRPO needs num_generations ≥ 2 (advantages are relative within a group)")
        if min(self.prompts_per_step, self.steps) < 1 or self.lr <= 0 or self.beta < 0:
            raise ValueError(f"invalid GRPO settings: {self}")


def grpo_config(hw, s: GRPOSettings, *, seed: int, out: Path):
    from trl import GRPOConfig

    base = common_args(
        hw,
        seed=seed,
        lr=s.lr,
        batch_size=s.prompts_per_step * s.num_generations,
        output_dir=str(out / "trainer"),
        max_steps=s.steps,
        epochs=1,
        warmup=s.warmup,
        scheduler=s.scheduler,
    )
    base["logging_steps"] = 1
    return GRPOConfig(
        **base,
        num_generations=s.num_generations,
        max_completion_length=s.max_new_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        beta=s.beta,
        loss_type=s.loss_type,
        scale_rewards=s.scale_rewards,
        epsilon=s.epsilon,
        max_grad_norm=s.max_grad_norm,
        shuffle_dataset=True,
    )


def train_grpo(
    policy,
    tokenizer,
    dataset: Dataset,
    reward_funcs: list,
    hw,
    settings: GRPOSettings,
    *,
    seed: int,
    out: Path,
    weights: Sequence[float] | None = None,
    evaluator: HeldOutEval | None = None,
    eval_every: int = 0,
    callbacks: Sequence[TrainerCallback] = (),
):
    """GRPO on ``policy`` (a copy is trained; the argument is left as it was) with TRL's ``GRPOTrainer``.
    Returns ``(trained model, RLCurves)``."""
    from trl import GRPOTrainer

    quiet_libraries()
    out = Path(out)
    model = with_reference_path(copy.deepcopy(policy), out)
    args = grpo_config(hw, settings, seed=seed, out=out)
    if weights is not None:
        args.reward_weights = [float(w) for w in weights]
    curves = RLCurves(evaluator, eval_every)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(reward_funcs),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[curves, *callbacks],
    )
    without_printer(trainer)  # with tqdm off, Trainer prints every log dict (one per step)
    trainer.train()
    trainer.model.eval()
    return trainer.model, curves


def settings_from(node, **override) -> GRPOSettings:
    """``GRPOSettings`` from a config mapping (a paper's ``rl:`` block; unknown keys are ignored), with overrides."""
    fields = GRPOSettings.__dataclass_fields__
    d = {k: node[k] for k in fields if k in node}
    d.update(override)
    return GRPOSettings(
        **{
            k: (int(v) if fields[k].type == "int" else float(v) if fields[k].type == "float" else str(v))
            for k, v in d.items()
        }
    )


def settings_dict(s: GRPOSettings) -> dict:
    return asdict(s)
