"""WildBench: the numbers of ``metrics.json`` and the claims W1–W9, from ``experiment.run``'s recomputation (moved
from the notebook, which shows them). Every claim is on an exact quantity (public files; Table 3's point values),
so each is ``metrics.claims.claim`` with a computed ``holds``."""

from __future__ import annotations

import pandas as pd

from ...metrics.claims import claim, load_reported
from ...metrics.correlation import aligned, correlation
from ...metrics.verdicts import RECOMPUTATION
from ..interface import Metrics
from ..lc_alpacaeval.experiment import reported_vs_reproduced
from .experiment import load_scores

TABLE3_KEYS = {
    "Arena-Hard": "arena_hard",
    "AlpacaEval2-LC": "ae2_lc",
    "AlpacaEval2": "ae2",
    "WB-Score": "wb_score",
    "Avg Length": "avg_length",
}
TABLE2_COLUMNS = {
    "wb_reward_mix": (-1, "mix"),
    "wb_reward_gpt4t": (-1, "gpt4t"),
    "wb_reward_haiku": (-1, "haiku"),
    "wb_reward_llama": (-1, "llama"),
}
EXTERNAL_ROWS = ["Arena-Hard", "AlpacaEval2-LC", "AlpacaEval2"]
FIVE = ["WB-Reward-mix K=inf", "WB-Score", "Arena-Hard", "AlpacaEval2-LC", "AlpacaEval2"]


def table3_key(name: str) -> str:
    """A Table 3 row's name in metrics.json (``WB-Reward-mix K=inf`` → ``wb_reward_mix_kinf``)."""
    if name in TABLE3_KEYS:
        return TABLE3_KEYS[name]
    base, k = name.split(" ")
    return base.replace("WB-Reward-", "wb_reward_") + ("_kinf" if k == "K=inf" else "_k500")


def _reported_rows(rep: pd.DataFrame, row: str, metric: str) -> pd.DataFrame:
    return rep[(rep.table == "Table 3") & (rep.row == row) & (rep.metric == metric)]


def table3_cells(res: dict, rep: pd.DataFrame, row: str) -> list[tuple[str, float, float]]:
    """(column, ours, paper's) for every Table 3 cell of ``row`` the paper reports."""
    t3 = res["table3"]
    return [
        (c, float(t3.loc[row, c]), float(_reported_rows(rep, row, c)["value"].iloc[0]))
        for c in ("pearson_top", "pearson", "spearman", "kendall")
        if len(_reported_rows(rep, row, c))
    ]


def _within(res, rep, rows, tol) -> bool:
    return all(abs(ours - paper) <= tol for r in rows for _, ours, paper in table3_cells(res, rep, r))


def _maxdiff(res, rep, rows) -> float:
    return max(abs(ours - paper) for r in rows for _, ours, paper in table3_cells(res, rep, r))


def reported_pairs(res: dict, values: dict, rep: pd.DataFrame) -> list[tuple]:
    """(table, row, metric, reproduced, metrics key) for every reference row of results/reported/wildbench.csv; adds
    the Table 2 rows' rewards and scores to ``values`` (they are metrics too)."""
    t3, rw, sc, lr = res["table3"], res["rewards"], res["scores"], res["length_ranks"]
    pairs = []
    for name, row in t3.iterrows():
        for c in ("pearson_top", "pearson", "spearman", "kendall"):
            hit = rep[(rep.table == "Table 3") & (rep.row == name) & (rep.metric == c)]
            if len(hit):
                pairs.append(("Table 3", name, c, float(row[c]), f"table3.{table3_key(name)}.{c}"))
    for m in rep[rep.table == "Table 2"]["row"].unique():
        for met, col in TABLE2_COLUMNS.items():
            pairs.append(("Table 2", m, met, float(rw.loc[m, col]), f"rewards.{m}.{met}"))
            values[f"rewards.{m}.{met}"] = float(rw.loc[m, col])
        pairs.append(("Table 2", m, "wb_score", float(sc.loc[m, "WB_score"]), f"scores.{m}.wb_score"))
        values[f"scores.{m}.wb_score"] = float(sc.loc[m, "WB_score"])
    pairs.append(
        (
            "issue 14",
            "gpt-3.5-turbo-0125 (GPT-4-Turbo judge, v2.0522)",
            "mean_score",
            values["score.gpt35_0125.v2_0522_gpt4t"],
            "score.gpt35_0125.v2_0522_gpt4t",
        )
    )
    for paper_name, key in (
        ("Llama-2-70B-chat", "Llama-2-70b-chat-hf"),
        ("Llama-3-70B-Inst", "Meta-Llama-3-70B-Instruct"),
        ("Yi-1.5-6B-Chat", "Yi-1.5-6B-Chat"),
    ):
        if key in lr.index:
            pairs.append(
                (
                    "§ (claim 4)",
                    paper_name,
                    "avg_length_chars",
                    float(lr.loc[key, "avg_len"]),
                    f"length_claim.{key}.avg_len",
                )
            )
    return pairs


def reported_table(res: dict, values: dict) -> pd.DataFrame:
    """Reproduced vs the paper's reference rows (``values``: this run's metrics)."""
    rep = load_reported("wildbench")
    return reported_vs_reproduced(rep, reported_pairs(res, dict(values), rep))


def metrics(res: dict, cfg) -> Metrics:
    """The flat numbers of metrics.json, section by section as the notebook presents them."""
    out = {}
    paper, head = res["snapshots"]
    # 1. WB-Reward recomputed from the outcome counts
    for s, c in res["checks"].items():
        tag = "paper" if s == paper else "head"
        for k, v in c.items():
            out[f"reward_check.{tag}.{k}"] = v
    # 2. WB-Score
    sc = res["scores"]
    for tag, s in (("paper", sc), ("head", res["scores_head"])):
        out[f"score_check.{tag}.adjusted"] = float((s["WB_score"] / 10 - s["adjusted_score_file"]).abs().max())
        out[f"score_check.{tag}.task_macro"] = float((s["task_macro_score"] - s["task_macro_score_file"]).abs().max())
    out["score_check.paper.vs_all_stat"] = float(
        (sc["WB_score"].astype(float) - res["all_stat"]["WB_score"].reindex(sc.index).astype(float)).abs().max()
    )
    pe = res["per_example"]
    matched = pe.dropna(subset=["score_json"])
    out["score_check.per_example.n_files"] = len(pe)
    out["score_check.per_example.n_matched"] = len(matched)
    out["score_check.per_example.max_abs_diff"] = float(matched["abs_diff"].max())
    out["score_check.per_example.avg_len_max_abs_diff"] = float(
        (matched["avg_len"] - [load_scores(head)[m]["avg_len"] for m in matched["model"]]).abs().max()
    )
    g35 = pe[(pe.model == "gpt-3.5-turbo-0125")].set_index(["version", "judge"])["score"]
    out["score.gpt35_0125.v2_0522_gpt4t"] = float(g35.loc[("v2.0522", "gpt-4-turbo-2024-04-09")])
    out["score.gpt35_0125.v2_0625_gpt4o"] = float(g35.loc[("v2.0625", "gpt-4o-2024-05-13")])
    # 3. correlation with Chatbot Arena (Table 3), and by length margin K
    t3 = res["table3"]
    for name, row in t3.iterrows():
        for c in ("pearson_top", "pearson", "spearman", "kendall"):
            out[f"table3.{table3_key(name)}.{c}"] = float(row[c])
        for c in ("pearson", "spearman", "kendall"):
            out[f"table3.{table3_key(name)}.{c}_lo"] = float(row[f"{c}_lo"])
            out[f"table3.{table3_key(name)}.{c}_hi"] = float(row[f"{c}_hi"])
    out["table3.n_models"] = int(t3["n"].iloc[0])
    for K, r in res["k_sweep"].iterrows():
        for c, v in r.items():
            out[f"k_sweep.K{K if K != '∞' else 'inf'}.{c}"] = float(v)
    # 4. "not dominated by length"
    rw, lr = res["rewards"], res["length_ranks"]
    for m, r in lr.iterrows():
        for c, v in r.items():
            out[f"length_claim.{m}.{c}"] = float(v)
    out["length_claim.n_models"] = int(rw[(-1, "mix")].notna().sum())
    x_len, y_mix = aligned(sc["avg_len"], rw[(-1, "mix")])
    out["length_claim.spearman_length_vs_mix"] = correlation(x_len, y_mix, "spearman")
    # reproduced vs reported (adds Table 2's rows to the metrics), and the Table 3 differences the claims read
    rep = load_reported("wildbench")
    cmp = reported_vs_reproduced(rep, reported_pairs(res, out, rep))
    t2 = cmp[cmp.table == "Table 2"]
    out["reported.table2_mix_max_abs_diff"] = float(t2[t2.metric == "wb_reward_mix"]["abs_diff"].max())
    out["reported.table2_score_max_abs_diff"] = float(t2[t2.metric == "wb_score"]["abs_diff"].max())
    out["claims.table3_external_max_abs_diff"] = _maxdiff(res, rep, EXTERNAL_ROWS)
    out["claims.table3_mix_kinf_max_abs_diff"] = _maxdiff(res, rep, ["WB-Reward-mix K=inf"])
    out["claims.table3_mix_k500_max_abs_diff"] = _maxdiff(res, rep, ["WB-Reward-mix K=500"])
    out["claims.table3_wb_score_max_abs_diff"] = _maxdiff(res, rep, ["WB-Score"])
    out["claims.k500_max_drop"] = k500_drop(res)
    return Metrics(out)


def k500_drop(res: dict) -> float:
    """The largest drop of any correlation of WB-Reward-mix from K = ∞ to K = 500 (claim W8)."""
    t3 = res["table3"]
    return max(
        float(t3.loc["WB-Reward-mix K=inf", c] - t3.loc["WB-Reward-mix K=500", c])
        for c in ("pearson_top", "pearson", "spearman", "kendall")
    )


def orders(res: dict, rep: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Ours and the paper's ordering of the five benchmarks by P-Cor top (claim W7)."""
    ours = list(res["table3"].loc[FIVE, "pearson_top"].sort_values(ascending=False).index)
    paper = sorted(FIVE, key=lambda r: -float(_reported_rows(rep, r, "pearson_top")["value"].iloc[0]))
    return ours, paper


def claims(res: dict, cfg) -> list[dict]:
    """W1–W9 (the notebook's first cell says what each is and how it is judged here)."""
    m = metrics(res, cfg).values
    rep = load_reported("wildbench")
    paper, head = res["snapshots"]
    cp, ch = res["checks"][paper], res["checks"][head]
    lr = res["length_ranks"]
    k_drop = m["claims.k500_max_drop"]
    ours_order, paper_order = orders(res, rep)

    def cells(row):
        return table3_cells(res, rep, row)

    return [
        claim(
            "W1",
            "WB-Reward, group rewards and task-macro reward are the stated formulas of the outcome counts",
            max(
                cp["reward"],
                cp["group_reward"],
                cp["task_macro_reward"],
                ch["reward"],
                ch["group_reward"],
                ch["task_macro_reward"],
            )
            < 1e-9,
            "max abs diff < 1e-9 over every pairwise file of both snapshots (task-macro with each snapshot's weights)",
            {
                "reward": max(cp["reward"], ch["reward"]),
                "task_macro": max(cp["task_macro_reward"], ch["task_macro_reward"]),
            },
            kind=RECOMPUTATION,
        ),
        claim(
            "W2",
            "WB-Score is 10 · mean 2(S − 5); the leaderboard score is the mean of the per-example scores",
            max(
                m["score_check.paper.adjusted"],
                m["score_check.head.adjusted"],
                m["score_check.head.task_macro"],
                m["score_check.paper.task_macro"],
                m["score_check.per_example.max_abs_diff"],
            )
            < 1e-9,
            "max abs diff < 1e-9 (score.json of both snapshots; per-example files matched to HEAD score.json)",
            {
                "n_per_example_matched": m["score_check.per_example.n_matched"],
                "max": m["score_check.per_example.max_abs_diff"],
            },
            kind=RECOMPUTATION,
        ),
        claim(
            "W3",
            "The K rule only turns slight verdicts into ties",
            cp["K_much_changed"] == 0
            and cp["K_slight_increased"] == 0
            and ch["K_much_changed"] == 0
            and ch["K_slight_increased"] == 0,
            "win_much and lose_much identical across K files; win and lose never larger than at K = ∞",
            {
                "much_changed": cp["K_much_changed"] + ch["K_much_changed"],
                "slight_increased": cp["K_slight_increased"] + ch["K_slight_increased"],
            },
            kind=RECOMPUTATION,
        ),
        claim(
            "W4",
            "Table 3 rows of Arena-Hard, AlpacaEval 2 LC and AlpacaEval 2",
            all(round(ours, 3) == paper for r in EXTERNAL_ROWS for _, ours, paper in cells(r)),
            "every cell, rounded to 3 decimals, equals the paper's",
            {"max_abs_diff": m["claims.table3_external_max_abs_diff"]},
            kind=RECOMPUTATION,
        ),
        claim(
            "W5a",
            "Table 3 row WB-Reward-mix K = ∞",
            _within(res, rep, ["WB-Reward-mix K=inf"], 0.01),
            "every cell within 0.01",
            {c: ours for c, ours, _ in cells("WB-Reward-mix K=inf")},
            kind=RECOMPUTATION,
        ),
        claim(
            "W5b",
            "Table 3 row WB-Reward-mix K = 500",
            _within(res, rep, ["WB-Reward-mix K=500"], 0.01),
            "every cell within 0.01",
            {c: ours for c, ours, _ in cells("WB-Reward-mix K=500")},
            kind=RECOMPUTATION,
        ),
        claim(
            "W6",
            "Table 3 row WB-Score",
            _within(res, rep, ["WB-Score"], 0.01),
            "every cell within 0.01",
            {c: ours for c, ours, _ in cells("WB-Score")},
            kind=RECOMPUTATION,
        ),
        claim(
            "W7",
            "WB-Reward-mix correlates best with Arena (P-Cor top 0.984 > 0.955 > 0.909 > 0.892 > 0.865)",
            ours_order == paper_order,
            "same ordering of P-Cor top over the five benchmarks",
            {"ours": " > ".join(ours_order)},
            kind=RECOMPUTATION,
        ),
        claim(
            "W9",
            "Length does not dominate: Llama-2-70B-chat and Llama-3-70B-Instruct have near-equal lengths but far-apart "
            "ranks",
            abs(lr.loc["Llama-2-70b-chat-hf", "avg_len"] / lr.loc["Meta-Llama-3-70B-Instruct", "avg_len"] - 1) <= 0.05
            and lr.loc["Llama-2-70b-chat-hf", "mix_rank"] - lr.loc["Meta-Llama-3-70B-Instruct", "mix_rank"] >= 20,
            "lengths within 5 % and WB-Reward-mix ranks ≥ 20 apart (paper: 2965 vs 2983 chars, ranks 33 vs 5)",
            {
                "len_llama2_70b": float(lr.loc["Llama-2-70b-chat-hf", "avg_len"]),
                "len_llama3_70b": float(lr.loc["Meta-Llama-3-70B-Instruct", "avg_len"]),
                "rank_llama2_70b": float(lr.loc["Llama-2-70b-chat-hf", "mix_rank"]),
                "rank_llama3_70b": float(lr.loc["Meta-Llama-3-70B-Instruct", "mix_rank"]),
            },
            kind=RECOMPUTATION,
        ),
        claim(
            "W8",
            "The K = 500 length penalty does not hurt the mix's correlation with Arena",
            k_drop <= 0.01,
            "no correlation (P-top, P, S, K) drops by more than 0.01 from K = ∞ to K = 500",
            {"max_drop": k_drop},
            kind=RECOMPUTATION,
        ),
    ]


def render_table(doc: dict) -> str:
    m = doc["metrics"]
    rows = [k for k in m if k.startswith("table3.")]
    out = ["| Table 3 cell | reproduced |", "|---|---|"]
    out += [f"| `{k}` | {m[k]:.3f} |" for k in rows if isinstance(m[k], float) and not k.endswith(("_lo", "_hi"))]
    return "\n".join(out)
