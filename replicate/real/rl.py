"""Online RL on a real model (``scale=small``, kind ``grpo``): GRPO through TRL's ``GRPOTrainer`` (no RL loop here).

    start model (``model.name_or_path``; LoRA via PEFT or full, ``scale.finetune``) → prompts (a dataset by id or a
    local file, ``paper.real.rl.data``) → GRPO with reward r(x, y) from a reward model by id or path
    (``paper.real.rl.reward_model``, by default the judge's), passed through a shaping of ``training.shaping`` by name
    (PAR and the baselines it is compared with), plus, for AutoRule, w · r_RA: the fraction of rules (text) a
    verifier LM answers "yes" to → a merged, plain checkpoint, cached.

A paper's ``real:`` block holds the GRPO settings every ``grpo`` method shares (``real.rl``); a method may override
any of them and names its reward::

    real:
      rl: {data: HuggingFaceH4/ultrafeedback_binarized, split: train_prefs, prompts: 200, epochs: 2, prompts_per_step: 8,
           num_generations: 5, lr: 3.0e-7, beta: 0.005, max_new_tokens: 256, reward_model: ${judge.name_or_path}, ...}
      methods:
        vanilla: {kind: grpo, shaping: vanilla}
        par: {kind: grpo, shaping: par, k: 1.0}                      # needs n_refs SFT samples per prompt, scored
        autorule: {kind: grpo, rules: ["The response ...", ...], rule_weight: match_std}

Prompt rows: a ``prompt`` string (UltraFeedback-binarized), a ``prompt`` list of chat messages (its last user turn), or
an ``instruction`` (+ optional ``input``, Alpaca's format); a local file is JSON lines, one such object a line.
Prompts longer than ``max_prompt_length`` tokens of the policy's chat template are skipped (PAR's < 512-token filter).

Contract (``methods.PLUGINS``): ``validate(name, m)``, ``missing(cfg, m) -> list[str]``,
``train(cfg, name, m, progress) -> Path`` of the final model directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.config import ConfigError, to_dict
from ..core.io import atomic_write_json, cached, code_fingerprint, content_hash, read_json
from ..training.shaping import NEEDS_REF, SHAPINGS, Shaping, length_penalty
from .data import open_dataset
from .engines import generate
from .keys import id_key, stage_key
from .logs import trainer_logs
from .methods import methods
from .policy import load_policy, lora
from .preflight import resolvable
from .scorers import reward_model, rule_verifier

REWARD_KEYS = ("shaping", "k", "quantile", "c", "n_refs", "rules", "rule_weight", "verifier")
SHAPING_HP = ("k", "quantile", "c")  # the hyperparameters of training.shaping's functions a method may set


def validate(name: str, m: dict) -> None:
    """The method's own keys (its reward); the GRPO settings merged with ``real.rl`` are checked by :func:`missing`."""
    where = f"paper.real.methods.{name}"
    if m.get("shaping", "vanilla") not in SHAPINGS:
        raise ConfigError(f"{where}.shaping must be one of {SHAPINGS}, got {m.get('shaping')!r}")
    if "rules" in m:
        rules = m["rules"]
        if not isinstance(rules, list) or not rules or not all(isinstance(r, str) and r.strip() for r in rules):
            raise ConfigError(f"{where}.rules must be a non-empty list of rule texts")
        w = m.get("rule_weight", 1.0)
        if w != "match_std" and not (isinstance(w, (int, float)) and w > 0):
            raise ConfigError(f"{where}.rule_weight must be a positive number or match_std, got {w!r}")


def settings(cfg, m: dict) -> dict:
    """``paper.real.rl`` with the method's overrides (the method's keys win)."""
    base = to_dict(cfg.paper.real.get("rl") or {})
    return {**base, **{k: v for k, v in m.items() if k not in ("kind", "label")}}


def steps(s: dict) -> int:
    return int(s["epochs"]) * int(s["prompts"]) // int(s["prompts_per_step"])


def _grpo_settings(cfg, s: dict):
    from ..training.rl import settings_from

    ft = cfg.scale.finetune
    lr = float(s["lr"]) * (float(ft.lr_scale) if ft.mode == "lora" else 1.0)  # the scale's LoRA convention, as fit()
    return settings_from(s, steps=steps(s), lr=lr)


def _check(cfg, s: dict, name: str) -> None:
    where = f"paper.real.rl (method {name})"
    for k in ("data", "prompts", "epochs", "prompts_per_step", "num_generations", "lr", "beta", "max_new_tokens"):
        if s.get(k) is None:
            raise ConfigError(f"{where}: {k} is not set")
    if not s.get("reward_model"):
        raise ConfigError(
            f"{where}: reward_model is not set (a reward model id or path; by default the judge's, and "
            f"judge={cfg.judge.name} has none)"
        )
    if int(s["prompts"]) % int(s["prompts_per_step"]):
        raise ConfigError(
            f"{where}: prompts ({s['prompts']}) must be a multiple of prompts_per_step ({s['prompts_per_step']})"
        )
    if s.get("shaping", "vanilla") in NEEDS_REF and int(s.get("n_refs") or 0) < 1:
        raise ConfigError(f"{where}: shaping {s['shaping']} needs n_refs ≥ 1 reference samples per prompt")
    try:
        _grpo_settings(cfg, s)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from e


def _verifier(cfg, s: dict) -> str:
    return str(s.get("verifier") or cfg.model.name_or_path)  # default: the (frozen) start model answers yes/no


def missing(cfg, m: dict) -> list[str]:
    """What this method needs that is absent offline (a bad GRPO setting raises ``ConfigError`` here, before compute)."""
    s = settings(cfg, m)
    _check(
        cfg, s, next((n for n, v in to_dict(cfg.paper.real.methods).items() if v == m), "?")
    )  # the name, for the message
    out = []
    if not resolvable(s["data"], "dataset"):
        out.append(
            f"dataset {s['data']!r} (paper.real.rl.data: the RL prompts): not a local path and not in the Hugging "
            "Face cache"
        )
    judge_rm = cfg.judge.get("kind") == "reward_model" and str(cfg.judge.name_or_path) == str(s["reward_model"])
    if not judge_rm and not resolvable(s["reward_model"]):  # the judge's own is named by require already
        out.append(
            f"reward model {s['reward_model']!r} (paper.real.rl.reward_model): not a local directory and not in "
            "the Hugging Face cache"
        )
    v = _verifier(cfg, s)
    if s.get("rules") and v != str(cfg.model.name_or_path) and not resolvable(v):  # the start model: named by require
        out.append(
            f"verifier {v!r} (paper.real.methods.*.verifier): not a local directory and not in the Hugging Face cache"
        )
    return out


# ----------------------------------------------------------------------------- prompts and references
def prompt_text(row: dict) -> str:
    """The user's instruction of one dataset row (formats in the module docstring)."""
    p = row.get("prompt")
    if isinstance(p, str):
        return p
    if isinstance(p, list):
        return [t["content"] for t in p if t.get("role") == "user"][-1]
    if row.get("instruction"):
        return f"{row['instruction']}\n\n{row['input']}" if row.get("input") else row["instruction"]
    raise ConfigError(
        f"an RL prompt row needs a 'prompt' (string or chat messages) or an 'instruction'; got {sorted(row)}"
    )


def prompts(cfg, s: dict, tok) -> list[str]:
    """``s['prompts']`` instructions, shuffled by the seed, at most ``max_prompt_length`` chat-template tokens each."""
    ds = open_dataset(str(s["data"]), s.get("split", "train"), s.get("subset"))
    limit, out, n = s.get("max_prompt_length"), [], int(s["prompts"])
    for row in ds.shuffle(seed=int(cfg.seed)):
        x = prompt_text(row)
        if limit and len(_chat_ids(tok, x)) > int(limit):
            continue
        out.append(x)
        if len(out) == n:
            return out
    raise ConfigError(
        f"paper.real.rl.data {s['data']!r} has only {len(out)} prompts within max_prompt_length="
        f"{limit}; {n} are needed"
    )


def _chat_ids(tok, x: str) -> list[int]:
    ids = tok.apply_chat_template([{"role": "user", "content": x}], add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


def _sample(s: dict):
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "temperature": float(s.get("temperature", 1.0)),
            "top_p": float(s.get("top_p", 1.0)),
            "max_new_tokens": int(s["max_new_tokens"]),
            "batch_size": int(s.get("ref_batch_size", 32)),
        }
    )


def _penalty(s: dict):
    lp = s.get("length_penalty")
    return (float(lp["threshold"]), float(lp["coef"])) if lp else None


def references(cfg, s: dict, xs: list[str], n: int) -> dict:
    """PAR's ``gen_refs``: ``n`` samples of the start model per prompt, their reward-model scores (length-penalised as
    the policy's, in the policy's tokens + end of turn) and, with rules, their rule rewards (cached)."""
    key = stage_key(
        cfg,
        "grpo-refs",
        content_hash(xs),
        n,
        id_key(s["reward_model"]),
        _penalty(s),
        {k: s.get(k) for k in ("temperature", "top_p", "max_new_tokens", "rules")},
        id_key(_verifier(cfg, s)) if s.get("rules") else None,
        _code(),
    )

    def compute(tmp: Path):
        from transformers import AutoTokenizer

        ys = generate(cfg, cfg.model.name_or_path, xs, n=n, tag="grpo-refs", sample=_sample(s))
        fx, fy = [x for x, y in zip(xs, ys) for _ in y], [r for y in ys for r in y]
        r = _rm(cfg, s)(fx, fy)
        if _penalty(s):
            tok = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
            r = length_penalty(r, [len(tok(y, add_special_tokens=False)["input_ids"]) + 1 for y in fy], *_penalty(s))
        rules = rule_verifier(cfg, _verifier(cfg, s), s["rules"])(fx, fy).mean(1).tolist() if s.get("rules") else None
        atomic_write_json(
            tmp / "refs.json",
            {"responses": ys, "rewards": np.asarray(r).reshape(len(xs), n).tolist(), "rule_rewards": rules},
        )

    return read_json(cached("real-grpo-refs", key, compute) / "refs.json")


def _rm(cfg, s: dict):
    j = cfg.judge
    return reward_model(
        s["reward_model"],
        dtype=str(j.get("dtype", "float32")),
        batch_size=int(j.get("batch_size", 16)),
        max_length=j.get("max_length"),
    )


# ----------------------------------------------------------------------------- TRL reward functions
def _content(c) -> str:
    return c[-1]["content"] if isinstance(c, list) else str(c)


def reward_function(score, *, shaping: Shaping | None = None, name: str):
    """A TRL reward function: ``shaping(score(instructions, responses), batch)``; logs ``<name>/raw`` and
    ``<name>/shaped`` per step through TRL's ``log_metric`` (TRL logs ``rewards/<name>/mean``, kl and lengths)."""
    from ..training.rl import ShapingBatch

    def fn(prompts, completions, completion_ids=None, trainer_state=None, log_metric=None, **columns):
        xs, ys = [_content(p) for p in prompts], [_content(c) for c in completions]
        raw = np.asarray(score(xs, ys), dtype=float)
        out = raw
        if shaping is not None:
            lengths = np.array([len(c) for c in completion_ids], dtype=float)
            cols = {k: v for k, v in columns.items() if k == "ref_rewards"}
            out = np.asarray(
                shaping(raw, ShapingBatch(xs, ys, lengths, cols, int(getattr(trainer_state, "global_step", 0))))
            )
        if log_metric is not None:
            log_metric(f"{name}/raw", float(raw.mean()))
            log_metric(f"{name}/shaped", float(out.mean()))
        return out.tolist()

    fn.__name__ = name  # TRL names the logged reward column after the function
    return fn


def _code() -> str:
    """The code an RL stage depends on beyond keys.CODE (the shapings and the toy RL module's settings)."""
    from ..training import rl, shaping

    return content_hash([code_fingerprint(rl.__file__), code_fingerprint(shaping.__file__)])


# ----------------------------------------------------------------------------- the run
def train(cfg, name: str, m: dict, progress: bool = False) -> Path:
    """The merged model directory of GRPO from ``model.name_or_path`` with this method's reward (cached)."""
    s = settings(cfg, m)
    _check(cfg, s, name)
    key = stage_key(
        cfg,
        "grpo",
        s,
        to_dict(cfg.scale.finetune),
        id_key(s["data"]),
        id_key(s["reward_model"]),
        id_key(_verifier(cfg, s)) if s.get("rules") else None,
        {k: cfg.judge.get(k) for k in ("dtype", "batch_size", "max_length")},
        _code(),
    )

    def compute(tmp: Path):
        _grpo(cfg, s, tmp, progress)

    return cached("real-grpo", key, compute) / "model"


def _grpo(cfg, s: dict, tmp: Path, progress: bool) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer, PrinterCallback
    from trl import GRPOTrainer

    from ..training.rl import grpo_config
    from ..training.trl_hook import log_history
    from . import engines
    from .fit import free

    ft = cfg.scale.finetune
    # the start model's reference samples come first: their generation engine is torn down before the policy loads
    xs = prompts(cfg, s, AutoTokenizer.from_pretrained(cfg.model.name_or_path))
    shaping_name = s.get("shaping", "vanilla")
    n_refs = int(s.get("n_refs") or 0) if shaping_name in NEEDS_REF else 0
    rules = s.get("rules")
    n_ref_samples = max(n_refs, 4 if rules and s.get("rule_weight") == "match_std" else 0)
    refs = references(cfg, s, xs, n_ref_samples) if n_ref_samples else None
    engines.release()
    model, tok = load_policy(cfg.model.name_or_path, cfg, master=ft.mode == "full")
    rm = _rm(cfg, s)
    shaping = Shaping(
        shaping_name, penalty=_penalty(s), n_refs=n_refs or None, **{k: float(s[k]) for k in SHAPING_HP if k in s}
    )
    funcs, weights, w = [reward_function(rm, shaping=shaping, name="rm")], [1.0], 0.0
    if rules:
        verifier = rule_verifier(cfg, _verifier(cfg, s), rules)
        w = rule_weight(s.get("rule_weight", 1.0), refs)
        funcs.append(reward_function(lambda x, y: verifier(x, y).mean(1), name="rules"))
        weights.append(w)
    data = {"prompt": [[{"role": "user", "content": x}] for x in xs]}
    if n_refs:
        data["ref_rewards"] = refs["rewards"]
    if ft.mode == "lora":
        model = lora(cfg, model)
        if cfg.hardware.get("gradient_checkpointing"):
            model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input when the base is frozen
    args = grpo_config(cfg.hardware, _grpo_settings(cfg, s), seed=int(cfg.seed), out=tmp)
    args.reward_weights, args.disable_tqdm = weights, not progress
    # rollouts with the KV cache: TRL disables gradient checkpointing around generate, and asking for the cache
    # explicitly keeps it on whatever the model's config says (without it a 256-token rollout is quadratic)
    args.generation_kwargs = {**(args.generation_kwargs or {}), "use_cache": True}
    for k, v in trainer_logs(cfg, tmp).items():
        setattr(args, k, v)
    args.logging_steps = 1  # one GRPO step is expensive: every step's curves
    trainer = GRPOTrainer(
        model=model, reward_funcs=funcs, args=args, train_dataset=Dataset.from_dict(data), processing_class=tok
    )
    trainer.remove_callback(PrinterCallback)  # the progress bar shows each step's logs; no print per step
    trainer.train()
    out = trainer.model
    if (
        ft.mode == "lora"
    ):  # TRL adds a frozen "ref" adapter beside "default" for the KL term: merge only the trained one
        out = out.merge_and_unload(adapter_names=["default"])
    out.save_pretrained(tmp / "model")
    tok.save_pretrained(tmp / "model")
    atomic_write_json(tmp / "history.json", log_history(trainer))
    atomic_write_json(tmp / "rl.json", {"prompts": len(xs), "steps": steps(s), "rule_weight": w, "settings": s})
    del trainer, model, out
    free()


def rule_weight(w, refs: dict | None) -> float:
    """w in r = r_RM + w·r_RA: a number, or ``match_std``: std(r_RM)/std(r_RA) over the start model's samples on the
    RL prompts (before shaping), so both move the advantage comparably (AutoRule card, Pitfalls: "r_RM's scale can
    swamp r_RA"); 1 when the rule reward does not vary there."""
    if w != "match_std":
        return float(w)
    a, b = np.std(np.asarray(refs["rewards"], float)), np.std(np.asarray(refs["rule_rewards"], float))
    return float(a / b) if b > 0 else 1.0


def history(model_dir: Path) -> list[dict]:
    """TRL's per-step log of the GRPO run that produced ``model_dir`` (reward, kl, lengths, ``rm/raw`` ...)."""
    return read_json(Path(model_dir).parent / "history.json")


def info(model_dir: Path) -> dict:
    """The run's prompt count, steps, settings and rule weight w."""
    return read_json(Path(model_dir).parent / "rl.json")


LOGGED = ("reward", "rm/raw", "rm/shaped", "rules/raw", "kl", "completions/mean_length")


def curves(cfg):
    """Per-step curves of every ``grpo`` method of ``paper.real`` from TRL's logs (after ``runner.run``: the runs are
    cached, so this only reads them): step, method and ``LOGGED``."""
    import pandas as pd

    rows = [
        {"method": name, "step": int(h["step"]), **{k: h.get(k) for k in LOGGED if k in h}}
        for name, m in methods(cfg).items()
        if m["kind"] == "grpo"
        for h in history(train(cfg, name, m))
        if "reward" in h
    ]
    return pd.DataFrame(rows)
