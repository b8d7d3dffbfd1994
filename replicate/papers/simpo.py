"""SimPO Table 4 in miniature: SFT → pairs (Base: offline pool; Instruct: on-policy) → each method → judge.

Every expensive stage is cached under a content hash of what determines it (``replicate.core.io.cached``),
so methods share the SFT model and pairs, and a killed run resumes where it stopped.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ..core.config import to_dict
from ..core.io import atomic_write_json, cached, content_hash, read_json
from ..core.provenance import package_versions
from ..metrics.claims import claim
from ..metrics.evaluation import evaluate_policy, pair_diagnostics
from ..models.lm import build_model
from ..models.sampling import generate
from ..training import data as D
from ..worlds.tokenizer import build_tokenizer
from ..worlds.toy_lm import Judge, judge_from_cfg, make_prompts, persona_from_cfg, persona_responses

METHODS_TABLE4 = ("sft", "rrhf", "slic_hf", "dpo", "ipo", "cpo", "kto", "orpo", "rdpo", "simpo")


@dataclass
class World:
    tokenizer: object
    judge: Judge
    prompts: dict          # split -> list[str]: sft, pref, dev, eval
    reference: dict        # split -> reference-policy responses (dev, eval)


def setup_torch(cfg):
    threads = cfg.hardware.get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))
    # Not torch.use_deterministic_algorithms: CPU kernels are already run-to-run deterministic for a fixed
    # thread count (tests/test_cache_and_determinism.py checks), and the flag slows TRL's fused LM head ~1.5x.


def build_world(cfg) -> World:
    w, seed = cfg.scale.world, int(cfg.seed)
    sizes = {"sft": w.n_sft, "pref": w.n_pref_prompts, "dev": w.n_dev, "eval": w.n_eval}
    prompts, seen = {}, set()
    for i, (split, n) in enumerate(sizes.items()):  # disjoint splits: no eval prompt is ever trained on
        cand = [p for p in make_prompts(3 * n + 50, seed * 1000 + i) if p not in seen]
        cand = list(dict.fromkeys(cand))[:n]
        seen.update(cand)
        prompts[split] = cand
    ref = persona_from_cfg("reference", cfg.paper.reference)
    reference = {s: persona_responses(ref, prompts[s], seed * 1000 + 10 + k) for k, s in enumerate(("dev", "eval"))}
    return World(build_tokenizer(), judge_from_cfg(cfg.judge, seed), prompts, reference)


# The modules whose code determines a stage's output: editing any of them invalidates the cache.
_CODE = ("worlds/toy_lm", "worlds/tokenizer", "models", "losses", "training/data", "training/trl_hook",
         "metrics/evaluation", "metrics/winrate", "papers/simpo")


def code_hash() -> str:
    root = Path(__file__).resolve().parent.parent
    files = []
    for m in _CODE:  # a module or a subpackage (every .py file under it)
        path = root / m
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return content_hash([(str(f.relative_to(root)), f.read_text()) for f in files])


def _stage_key(cfg, *parts, world: dict | None = None) -> dict:
    return {"versions": package_versions(("torch", "transformers", "trl", "numpy", "datasets", "tokenizers")),
            "code": code_hash(), "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
            "hardware": to_dict(cfg.hardware), "seed": int(cfg.seed), "model": to_dict(cfg.model),
            "world": to_dict(cfg.scale.world) if world is None else world, "parts": parts}


def sft_model(cfg, world: World):
    """The SFT policy (Base setting's start; also the Instruct setting's 'released instruct model')."""
    demo = persona_from_cfg("demonstrator", cfg.paper.demonstrator)
    # SFT prompts are drawn first (build_world), so they depend on n_sft alone: changing the size of the
    # preference, dev or eval splits reuses the cached SFT model.
    key = _stage_key(cfg, "sft", to_dict(cfg.scale.sft), to_dict(cfg.paper.sft), to_dict(cfg.paper.demonstrator),
                     world={"n_sft": int(cfg.scale.world.n_sft)})

    def compute(tmp: Path):
        from ..training.trl_hook import sft

        responses = persona_responses(demo, world.prompts["sft"], int(cfg.seed) + 1)
        model = build_model(cfg.model, world.tokenizer, int(cfg.seed))
        model, hist = sft(model, world.tokenizer, D.sft_dataset(world.prompts["sft"], responses), cfg.hardware,
                          seed=int(cfg.seed), lr=float(cfg.paper.sft.lr), batch_size=int(cfg.scale.sft.batch_size),
                          steps=int(cfg.scale.sft.steps), out=tmp)
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    path = cached("simpo-sft", key, compute)
    return load_policy(path / "model")


def load_policy(path):
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    m.eval()
    return m


def preference_pairs(cfg, world: World, sft) -> dict:
    """{setting: {"train": pairs, "heldout": pairs}}; held-out pairs are built the same way on dev prompts."""
    key = _stage_key(cfg, "pairs", to_dict(cfg.paper.pool), to_dict(cfg.paper.pairs), to_dict(cfg.judge),
                     to_dict(cfg.scale.sample), to_dict(cfg.scale.sft), to_dict(cfg.paper.sft),
                     to_dict(cfg.paper.demonstrator))

    def compute(tmp: Path):
        out = {}
        seed = int(cfg.seed)
        personas = [persona_from_cfg(n, d) for n, d in cfg.paper.pool.items()]
        for split, sk in (("train", "pref"), ("heldout", "dev")):
            ps = world.prompts[sk]
            pool = list(zip(*[persona_responses(p, ps, seed * 7 + i + (100 if split == "heldout" else 0))
                              for i, p in enumerate(personas)]))
            out.setdefault("base", {})[split] = D.pairs_from_candidates(
                ps, pool, world.judge, rejected=cfg.paper.pairs.base_rejected, seed=seed)
            s = cfg.scale.sample
            samples = generate(sft, world.tokenizer, ps, n=int(s.n_per_prompt), temperature=float(s.temperature),
                               top_p=float(s.top_p), max_new_tokens=int(s.max_new_tokens), seed=seed + 3)
            out.setdefault("instruct", {})[split] = D.pairs_from_candidates(
                ps, samples, world.judge, rejected=cfg.paper.pairs.instruct_rejected, seed=seed)
        atomic_write_json(tmp / "pairs.json", out)

    return read_json(cached("simpo-pairs", key, compute) / "pairs.json")


def preference_dataset_on_disk(cfg, pairs: dict, setting: str):
    """The training pairs as an Arrow dataset on disk: ``datasets`` then caches TRL's tokenization and
    the reference log-probs by fingerprint, so the ~30 runs of a replication share them."""
    from datasets import load_from_disk

    key = _stage_key(cfg, "prefds", setting, pairs[setting]["train"])
    path = cached("simpo-prefds", key, lambda tmp: D.preference_dataset(pairs[setting]["train"]).save_to_disk(str(tmp / "ds")))
    return load_from_disk(str(path / "ds"))


def method_config(cfg, setting: str, method: str, *, use_tuned: bool = True, **override) -> dict:
    """Defaults from conf/method, then the tuned values for this setting, then explicit overrides."""
    m = OmegaConf.to_container(cfg.paper.methods[method], resolve=True)
    hp, lr = dict(m["hparams"]), m["lr"]
    t = cfg.paper.get("tuned")
    tuned = (OmegaConf.to_container(t, resolve=True) if t is not None else {}).get(setting, {}).get(method, {})
    if not use_tuned:
        tuned = {}
    for k, v in {**tuned, **override}.items():
        if k.startswith("dev_"):  # informational fields of the tuning record
            continue
        if k == "lr":
            lr = v
        else:
            hp[k] = v
    return {"loss": m["loss"], "hparams": hp, "lr": lr}


def run_method(cfg, world: World, pairs: dict, setting: str, method: str, *, split: str = "eval", tag: str = "",
               use_tuned: bool = True, **override) -> dict:
    """Train one method in one setting (cached) and evaluate it on ``split`` prompts."""
    mc = method_config(cfg, setting, method, use_tuned=use_tuned, **override)
    key = _stage_key(cfg, "run", setting, method, mc, split, to_dict(cfg.scale), to_dict(cfg.judge),
                     to_dict(cfg.paper.eval), to_dict(cfg.paper.reference), to_dict(cfg.paper.pairs),
                     to_dict(cfg.paper.pool), to_dict(cfg.paper.demonstrator), to_dict(cfg.paper.sft))

    def compute(tmp: Path):
        from ..training.trl_hook import train_preference

        start = sft_model(cfg, world)
        if mc["loss"] is None:
            model, hist = start, []
        else:
            ds = preference_dataset_on_disk(cfg, pairs, setting)
            p = cfg.scale.pref
            model, hist = train_preference(
                start, world.tokenizer, ds, cfg.hardware, loss=mc["loss"], loss_kwargs=mc["hparams"],
                seed=int(cfg.seed), lr=float(mc["lr"]), batch_size=int(p.batch_size), epochs=float(p.epochs),
                max_steps=p.max_steps, out=tmp)
        ev = evaluate_policy(model, world.tokenizer, world.judge, world.prompts[split], world.reference[split],
                             temperature=float(cfg.paper.eval.temperature),
                             max_new_tokens=int(cfg.paper.eval.max_new_tokens), seed=int(cfg.seed) + 17)
        hp = mc["hparams"]
        diag = {} if split == "dev" else pair_diagnostics(  # tuning needs only the dev win rates
            model, world.tokenizer, pairs[setting]["heldout"], ref_model=sft_model(cfg, world) if mc["loss"] else None,
            beta=float(hp.get("beta", 1.0)), gamma=float(hp.get("gamma", 0.0)))
        atomic_write_json(tmp / "result.json", {"setting": setting, "method": method, "tag": tag, "config": mc,
                                                "eval": ev, "heldout": diag, "history": hist})

    return read_json(cached("simpo-run", key, compute) / "result.json")


def run_all(cfg, world: World, pairs: dict, progress: bool = True) -> dict:
    """Table 4 (both settings, all methods) + Table 5 ablations (C3) + the γ sweep of Fig. 3 (C7)."""
    jobs = [(s, m, "", {}) for s in cfg.paper.settings for m in METHODS_TABLE4]
    for s in cfg.paper.settings:
        for name, ov in cfg.paper.ablations.items():
            jobs.append((s, "simpo", name, dict(ov)))
    sweep_setting = "instruct" if "instruct" in cfg.paper.settings else cfg.paper.settings[0]
    for g in cfg.paper.gamma_sweep:
        jobs.append((sweep_setting, "simpo", f"gamma={g}", {"gamma": float(g)}))
    results = {}
    for s, m, tag, ov in tqdm(jobs, desc="train+evaluate", disable=not progress):
        results[(s, m, tag)] = run_method(cfg, world, pairs, s, m, tag=tag, **ov)
    return results


# ---------------------------------------------------------------------------------------------
# Metrics and claims


def flat_metrics(results: dict, pair_stats: dict) -> dict:
    out = {}
    for (s, m, tag), r in results.items():
        name = f"{s}.{m}" + (f"[{tag}]" if tag else "")
        for k in ("win_rate", "lc_win_rate", "avg_length", "oracle_quality"):
            out[f"{name}.{k}"] = r["eval"][k]
        for k in ("agreement", "simpo_reward_accuracy", "dpo_reward_accuracy"):
            if k in r["heldout"]:
                out[f"{name}.{k}"] = r["heldout"][k]
    for s, st in pair_stats.items():
        for k, v in st.items():
            out[f"{s}.pairs.{k}"] = v
    return out


def claims(results: dict, cfg) -> list[dict]:
    R = lambda s, m, tag="": results[(s, m, tag)]  # noqa: E731
    out = []
    settings = list(cfg.paper.settings)
    ev = {f"{s}.{m}.lc": R(s, m)["eval"]["lc_win_rate"] for s in settings for m in ("simpo", "dpo")}
    out.append(claim("C1", "SimPO ≥ DPO on LC win rate in both settings",
                     all(R(s, "simpo")["eval"]["lc_win_rate"] >= R(s, "dpo")["eval"]["lc_win_rate"] for s in settings),
                     "simpo.lc_win_rate >= dpo.lc_win_rate (base and instruct)", ev))
    others = [m for m in METHODS_TABLE4 if m != "simpo"]
    best = {s: max(others, key=lambda m: R(s, m)["eval"]["lc_win_rate"]) for s in settings}
    out.append(claim("C2", "SimPO has the best LC win rate of all methods in each setting",
                     all(R(s, "simpo")["eval"]["lc_win_rate"] >= R(s, best[s])["eval"]["lc_win_rate"] for s in settings),
                     "simpo.lc_win_rate >= max(other methods)",
                     {**{f"{s}.best_other": best[s] for s in settings},
                      **{f"{s}.best_other.lc": R(s, best[s])["eval"]["lc_win_rate"] for s in settings},
                      **{f"{s}.simpo.lc": R(s, "simpo")["eval"]["lc_win_rate"] for s in settings}}))
    c3_ok, c3_ev = True, {}
    for s in settings:
        full, noln, g0 = R(s, "simpo"), R(s, "simpo", "no_length_norm"), R(s, "simpo", "gamma_zero")
        c3_ok &= full["eval"]["lc_win_rate"] > noln["eval"]["lc_win_rate"]
        c3_ok &= full["eval"]["lc_win_rate"] > g0["eval"]["lc_win_rate"]
        c3_ok &= noln["eval"]["avg_length"] > full["eval"]["avg_length"]
        c3_ev.update({f"{s}.simpo.lc": full["eval"]["lc_win_rate"], f"{s}.no_ln.lc": noln["eval"]["lc_win_rate"],
                      f"{s}.gamma0.lc": g0["eval"]["lc_win_rate"], f"{s}.simpo.len": full["eval"]["avg_length"],
                      f"{s}.no_ln.len": noln["eval"]["avg_length"]})
    out.append(claim("C3", "Without length normalization or with γ = 0 SimPO does worse; without LN responses grow longer",
                     c3_ok, "lc(simpo) > lc(no_ln), lc(simpo) > lc(γ=0), len(no_ln) > len(simpo), both settings", c3_ev))
    c6 = {f"{s}.{m}.agreement": R(s, m)["heldout"]["agreement"] for s in settings for m in ("simpo", "dpo")}
    out.append(claim("C6", "Likelihood–preference agreement on held-out pairs is higher for SimPO than DPO",
                     all(c6[f"{s}.simpo.agreement"] > c6[f"{s}.dpo.agreement"] for s in settings),
                     "agreement(simpo) > agreement(dpo), both settings", c6))
    sweep_setting = "instruct" if "instruct" in settings else settings[0]
    gs = [float(g) for g in cfg.paper.gamma_sweep]
    # reward accuracy as SimPO's and TRL's trainers log it: share of held-out pairs with r(y_w) > r(y_l)
    acc = [R(sweep_setting, "simpo", f"gamma={g}")["heldout"]["simpo_reward_accuracy"] for g in gs]
    wr = [R(sweep_setting, "simpo", f"gamma={g}")["eval"]["win_rate"] for g in gs]
    rho = _spearman(gs, acc)
    peak = int(np.argmax(wr))
    out.append(claim("C7", "Reward accuracy rises with γ while win rate peaks at an intermediate γ",
                     rho > 0.8 and 0 < peak < len(gs) - 1,
                     "spearman(γ, reward accuracy) > 0.8 and argmax_γ win rate is interior",
                     {"spearman_gamma_accuracy": rho, "argmax_gamma_win_rate": gs[peak],
                      **{f"acc@{g}": a for g, a in zip(gs, acc)}, **{f"wr@{g}": w for g, w in zip(gs, wr)}}))
    return out


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    r = spearmanr(x, y).statistic
    return float(r) if np.isfinite(r) else 0.0


def render_table(doc: dict) -> str:
    """Table 4 side by side: our LC / WR / length / oracle quality, and the paper's AE2 LC / WR (Mistral-Base/Instruct)."""
    m = doc["metrics"]
    try:
        from ..metrics.claims import load_reported

        rep = load_reported("simpo")
    except Exception:
        rep = None
    paper_setting = {"base": "Mistral-Base 7B", "instruct": "Mistral-Instruct 7B"}
    lines = ["| setting | method | LC WR (ours) | WR (ours) | avg len | oracle q | agreement | AE2 LC (paper) | AE2 WR (paper) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in ("base", "instruct"):
        for meth in METHODS_TABLE4:
            k = f"{s}.{meth}"
            if f"{k}.lc_win_rate" not in m:
                continue
            pl = pw = ""
            if rep is not None:
                row = rep[(rep.setting == paper_setting[s]) & (rep.row == meth) & (rep.reference.astype(str).str.lower() == "true")]
                pl = _v(row, "AE2 LC")
                pw = _v(row, "AE2 WR")
            lines.append(f"| {s} | {meth} | {m[f'{k}.lc_win_rate']:.1f} | {m[f'{k}.win_rate']:.1f} | "
                         f"{m[f'{k}.avg_length']:.1f} | {m[f'{k}.oracle_quality']:.3f} | "
                         f"{m.get(f'{k}.agreement', float('nan')):.3f} | {pl} | {pw} |")
    return "\n".join(lines)


def _v(rows, metric):
    r = rows[rows.metric == metric]
    return f"{float(r.value.iloc[0]):.1f}" if len(r) else ""
