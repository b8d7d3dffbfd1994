"""Null models cheat automatic benchmarks: the numbers of ``metrics.json`` and the claims N1–N6 (exact, from the
public artifacts) and T1a–T3 (the toy-world attack), from ``experiment.run``'s results (moved from the notebook,
which shows them)."""

from __future__ import annotations

import numpy as np

from ...metrics.claims import claim, load_reported
from ...metrics.verdicts import RECOMPUTATION
from ..interface import Metrics
from ..lc_alpacaeval import experiment as lc

ANATOMY_KEYS = (
    "chars",
    "prefix_chars",
    "structure_chars",
    "fake_instruction",
    "closes_output_block",
    "ignore_line",
    "ends_open_output",
)
SEARCH_KEYS = ("steps", "final_best_loss", "initial_loss", "accepted_mutations", "best_resets", "n_prefix_tokens")


def metrics(res: dict, cfg) -> Metrics:
    """The flat numbers of metrics.json, section by section as the notebook presents them."""
    out = {}
    # 1. the null model's AlpacaEval 2.0 scores, from its annotations
    t, r, lb = res["table"], res["win_rates"], res["leaderboard"]
    for k in ("win_rate", "standard_error", "discrete_win_rate", "n_wins"):
        out[f"null.{k}"] = float(r[k])
    out["null.max_abs_diff_leaderboard"] = float(
        max(abs(r[k] - lb[k]) for k in ("win_rate", "standard_error", "discrete_win_rate"))
    )
    out["null.avg_length"] = float(t["len_null"].mean())
    out["null.baseline_avg_length"] = float(t["len_baseline"].mean())
    out["lc.weights"] = float(res["lc_weights"].loc["NullModel", "lc_predicted"])
    out["lc.refit"] = float(res["refit"]["lc"])
    out["lc.refit_se"] = float(res["refit"]["lc_se"])
    # 2. the judge's view: first token, presentation order, position
    ann = res["annotations"]
    out["judge.max_abs_diff_recomputed_preference"] = float((t["recomputed"] - t["preference"]).abs().max())
    out["order.n_null_first"] = int(t["is_switched"].sum())
    # the hash against the order inferred from the logprobs (slim table, inferred_is_switched)
    inferred = ann[ann.model == "NullModel"].sort_values("row")["inferred_is_switched"].to_numpy()
    out["order.agreement_with_inferred"] = float(np.mean(inferred == t["is_switched"].to_numpy().astype(float)))
    split = res["position_split"]
    for slot, key in (("M (second)", "second"), ("m (first)", "first")):
        out[f"position.null_{key}.win_rate"] = float(split.loc[slot, "win_rate"])
        out[f"position.null_{key}.rows"] = int(split.loc[slot, "rows"])
    others = res["position_bias"].drop(index="NullModel")
    out["position.others.mean_first_minus_second"] = float(others["first_minus_second"].mean())
    out["position.others.n_models"] = len(others)
    out["position.others.share_negative"] = float((others["first_minus_second"] < 0).mean())
    x = ann[ann.judge_p_first_presented.notna() & (ann.model != lc.BASELINE) & (ann.model != "NullModel")]
    out["position.others.mean_p_first_better"] = float(x["judge_p_first_presented"].mean())
    # 3. anatomy of the cheating response, and the search that found its prefix
    a, ts = res["anatomy"], res["trajectory_summary"]
    for k in ANATOMY_KEYS:
        out[f"anatomy.{k}"] = a[k]
    for k in SEARCH_KEYS:
        out[f"search.{k}"] = ts[k]
    out["search.final_prefix_is_submitted_prefix"] = bool(ts["final_prefix_text"] == a["prefix"])
    out["search.resets_on_stride"] = ts["resets_on_stride"]
    # 4. the attack in miniature (toy world)
    out["toy.learned_judge_agreement"] = res["toy_world"]["learned_agreement"]
    for (target, name), s in res["toy_searches"].items():
        for k, v in s["defenses"].items():
            if isinstance(v, (int, float, bool)):
                out[f"toy.{target}_{name}.{k}"] = float(v) if not isinstance(v, bool) else v
        out[f"toy.{target}_{name}.init_win_rate"] = float(s["init_defenses"][f"{target}.win_rate"])
        out[f"toy.{target}_{name}.best_loss"] = float(s["search"]["best_loss"])
    return Metrics(out)


def toy_table(res: dict) -> dict:
    """Per (judge the search targeted, length): the string found, accepted mutations, and every defense's numbers."""
    rows = {}
    for (target, name), s in res["toy_searches"].items():
        rows[(target, name)] = {
            "response": s["search"]["response"],
            "accepted": s["search"]["accepted"],
            "init WR (own judge)": s["init_defenses"][f"{target}.win_rate"],
            **dict(s["defenses"]),
        }
    return rows


def reported_pairs(m: dict) -> list[tuple]:
    """(table, row, metric, reproduced, metrics key) for the reference rows of results/reported/cheating-null-models.csv."""
    slot = "02_re_evaluate_submission.ipynb"
    search = ("§3 / released notebook", "GPT-4-1106 AlpacaEval search")
    return [
        ("Table 2", "Structured+RS (ours)", "win_rate", m["null.win_rate"], "null.win_rate"),
        (
            "Table 2",
            "Structured+RS (ours)",
            "discrete_win_rate",
            m["null.discrete_win_rate"],
            "null.discrete_win_rate",
        ),
        ("Table 2", "Structured+RS (ours)", "lc_win_rate", m["lc.weights"], "lc.weights"),
        ("leaderboard HEAD", "NullModel", "n_wins", m["null.n_wins"], "null.n_wins"),
        ("leaderboard HEAD", "NullModel", "avg_length", m["null.avg_length"], "null.avg_length"),
        (
            "text",
            "baseline gpt4_1106_preview",
            "avg_length",
            m["null.baseline_avg_length"],
            "null.baseline_avg_length",
        ),
        (
            slot,
            "null output in slot M (second)",
            "win_rate",
            m["position.null_second.win_rate"],
            "position.null_second.win_rate",
        ),
        (
            slot,
            "null output in slot m (first)",
            "win_rate",
            m["position.null_first.win_rate"],
            "position.null_first.win_rate",
        ),
        (slot, "null output in slot m (first)", "rows", m["position.null_first.rows"], "position.null_first.rows"),
        (slot, "null output in slot M (second)", "rows", m["position.null_second.rows"], "position.null_second.rows"),
        (*search, "steps", m["search.steps"], "search.steps"),
        (*search, "prefix_tokens", m["search.n_prefix_tokens"], "search.n_prefix_tokens"),
        (*search, "final_best_loss", m["search.final_best_loss"], "search.final_best_loss"),
        ("example/outputs.json", "NullModel output", "chars", m["anatomy.chars"], "anatomy.chars"),
    ]


def reported_table(values: dict):
    """Reproduced vs the paper's reference rows."""
    return lc.reported_vs_reproduced(load_reported("cheating-null-models"), reported_pairs(values))


def claims(res: dict, cfg) -> list[dict]:
    """N1–N6 on the public artifacts (exact), T1a–T3 on the toy-world attack (sampled: interval-judged)."""
    lm_ = metrics(res, cfg).values
    n_test = cfg.paper.budget[cfg.scale.name].n_test_prompts
    return [
        claim(
            "N1",
            "The constant response's AlpacaEval 2.0 raw and discrete win rates (76.9 / 84.0)",
            lm_["null.max_abs_diff_leaderboard"] < 1e-6
            and round(lm_["null.win_rate"], 1) == 76.9
            and round(lm_["null.discrete_win_rate"], 1) == 84.0,
            "equal to the leaderboard (max abs diff < 1e-6) and to Table 2 at one decimal",
            {"win_rate": lm_["null.win_rate"], "discrete": lm_["null.discrete_win_rate"]},
            kind=RECOMPUTATION,
        ),
        claim(
            "N2",
            "LC rewards the short cheat (LC 86.5 > WR 76.9)",
            lm_["lc.refit"] > lm_["null.win_rate"]
            and lm_["lc.weights"] > lm_["null.win_rate"]
            and abs(lm_["lc.weights"] - 86.5) <= 0.6,
            "LC > WR (refit and published weights); abs(LC_weights − 86.5) ≤ 0.6 (γ̂'s max LC error); goes through γ̂, an "
            "instruction-difficulty estimate fitted to reproduce the official LC, so not an independent check",
            {"lc_weights": lm_["lc.weights"], "lc_refit": lm_["lc.refit"], "wr": lm_["null.win_rate"]},
            kind=RECOMPUTATION,
        ),
        claim(
            "N3",
            "AlpacaEval's presentation order is a seeded hash; the null output was shown first on 406 of 805 rows",
            lm_["order.agreement_with_inferred"] == 1.0 and lm_["order.n_null_first"] == 406,
            "re-implemented hash = logprob-inferred order on every row, and 406 switched rows",
            {"agreement": lm_["order.agreement_with_inferred"], "n_first": lm_["order.n_null_first"]},
            kind=RECOMPUTATION,
        ),
        claim(
            "N4",
            "The cheat wins from both presentation slots (85.8 % / 68.2 %)",
            lm_["position.null_second.win_rate"] > 50
            and lm_["position.null_first.win_rate"] > 50
            and abs(lm_["position.null_second.win_rate"] - 85.8) <= 0.1
            and abs(lm_["position.null_first.win_rate"] - 68.2) <= 0.1,
            "WR > 50 in both slots and within 0.1 of the reported 85.8 / 68.2",
            {"second_M": lm_["position.null_second.win_rate"], "first_m": lm_["position.null_first.win_rate"]},
            kind=RECOMPUTATION,
        ),
        claim(
            "N5",
            "Stored preferences are the judge's first-token probabilities",
            lm_["judge.max_abs_diff_recomputed_preference"] < 1e-9,
            "recomputed from the raw top-5 logprobs: max abs diff < 1e-9",
            {"max_abs_diff": lm_["judge.max_abs_diff_recomputed_preference"]},
            kind=RECOMPUTATION,
        ),
        claim(
            "N6",
            "The prefix came from the random search on UltraFeedback prompts and was submitted unchanged",
            lm_["search.final_prefix_is_submitted_prefix"] and round(lm_["search.final_best_loss"], 3) == 0.268,
            "search log's final prefix == submitted prefix; final best loss 0.268",
            {"final_best_loss": lm_["search.final_best_loss"], "accepted": lm_["search.accepted_mutations"]},
            kind=RECOMPUTATION,
        ),
        # T1a–T2 are sampled (one search, n held-out prompts): judged on the win rate's 95 % interval, so a tie
        # reads inconclusive
        threshold_claim(
            "T1a",
            "Random search over a constant response reaches a high win rate on unseen prompts — against the toy judge",
            *max((lm_[f"toy.toy_{k}.toy.win_rate"], lm_[f"toy.toy_{k}.toy.win_rate_se"]) for k in ("matched", "long")),
            n_test,
            75,
            rule="held-out WR − 75 > 0 (the better of the two lengths)",
            evidence={"matched": lm_["toy.toy_matched.toy.win_rate"], "long": lm_["toy.toy_long.toy.win_rate"]},
        ),
        threshold_claim(
            "T1b",
            "Random search over a constant response reaches a high win rate on unseen prompts — against a learned judge",
            lm_["toy.learned_matched.learned.win_rate"],
            lm_["toy.learned_matched.learned.win_rate_se"],
            n_test,
            75,
            rule="held-out WR − 75 > 0 for the length-matched string",
            evidence={
                "long": lm_["toy.learned_long.learned.win_rate"],
                "init": lm_["toy.learned_matched.init_win_rate"],
            },
        ),
        threshold_claim(
            "T2",
            "The cheat transfers poorly to another judge (Table 10: 86.5 → 0.4)",
            lm_["toy.learned_matched.toy.win_rate"],
            lm_["toy.learned_matched.toy.win_rate_se"],
            n_test,
            20,
            at_most=True,
            rule="20 − (learned-judge cheat scored by the toy judge) > 0",
        ),
        claim(
            "T3",
            "A windowed-perplexity filter and LC do not stop the cheat (Table 8)",
            (not lm_["toy.learned_matched.flagged_ppl"])
            and lm_["toy.learned_matched.learned.lc_win_rate"] >= lm_["toy.learned_matched.learned.win_rate"] - 5,
            "length-matched cheat: not flagged by the PPL filter, and LC ≥ WR − 5",
            {
                "lc": lm_["toy.learned_matched.learned.lc_win_rate"],
                "wr": lm_["toy.learned_matched.learned.win_rate"],
                "ppl": lm_["toy.learned_matched.ppl_null"],
                "ppl_threshold": lm_["toy.learned_matched.ppl_threshold"],
            },
        ),
    ]


def threshold_claim(
    cid: str,
    text: str,
    wr: float,
    se: float,
    n: int,
    threshold: float,
    *,
    at_most: bool = False,
    rule: str,
    evidence: dict | None = None,
) -> dict:
    """A held-out win rate claimed to be ≥ ``threshold`` (or ≤ with ``at_most``), judged on its 95 % normal
    interval (AlpacaEval's standard error over the n test prompts of one search): above the threshold →
    reproduced, below → not reproduced, straddling → inconclusive."""
    from ...metrics.verdicts import interval_claim

    d = (threshold - wr) if at_most else (wr - threshold)
    ci = {"diff": d, "lo": d - 1.96 * se, "hi": d + 1.96 * se, "se": se, "n_seeds": 1, "n_prompts": int(n)}
    return interval_claim(cid, text, ci, rule=rule, evidence={"win_rate": wr, **(evidence or {})})


def render_table(doc: dict) -> str:
    m = doc["metrics"]
    rows = [
        ("NullModel raw win rate", "null.win_rate", "76.9"),
        ("NullModel discrete win rate", "null.discrete_win_rate", "84.0"),
        ("NullModel LC (published weights + γ̂)", "lc.weights", "86.5"),
        ("NullModel LC (our GLM refit)", "lc.refit", "86.5"),
        ("WR, null output shown second (M)", "position.null_second.win_rate", "85.8"),
        ("WR, null output shown first (m)", "position.null_first.win_rate", "68.2"),
        ("search: final best loss", "search.final_best_loss", "0.268"),
        ("toy: cheat vs toy judge (held-out WR)", "toy.toy_matched.toy.win_rate", "—"),
        ("toy: cheat vs learned judge (held-out WR)", "toy.learned_matched.learned.win_rate", "—"),
        (
            "toy: learned-judge cheat on the toy judge",
            "toy.learned_matched.toy.win_rate",
            "0.4 (Table 10, other judge)",
        ),
    ]
    out = ["| quantity | reproduced | paper |", "|---|---|---|"]
    for label, key, paper in rows:
        v = m.get(key)
        out.append(f"| {label} `{key}` | {v if not isinstance(v, float) else f'{v:.4g}'} | {paper} |")
    return "\n".join(out)
