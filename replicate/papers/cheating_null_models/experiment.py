"""Cheating automatic LLM benchmarks with a null model (Zheng et al., ICLR 2025), from public artifacts.

The NullModel's full AlpacaEval 2.0 annotation file (with the judge's raw top-5 log-probabilities), the
constant cheating response, the random-search judge prompts and the search trajectory are public. This
module recomputes the paper's AlpacaEval numbers and dissects the attack: which presentation slot the
null output was in (AlpacaEval's seeded order hash), what the judge's first token was, and what the
constant string is made of. ``toy_*`` functions run the attack itself in the toy world (replicate.worlds.toy_lm).
"""

from __future__ import annotations

import json
import random
from functools import cache

import numpy as np
import pandas as pd

from ...metrics import winrate as W
from ...worlds.public_data import data_path
from ..lc_alpacaeval import experiment as lc

NULL_ANNOTATIONS = "alpaca_eval/NullModel__weighted_alpaca_eval_gpt4_turbo__annotations.json"
CONSTANT = "cheating_null_models/nullmodel_constant_response__alpacaeval2__structured_plus_RS.txt"
PROMPTS = "cheating_null_models/random_search_judge_prompts__ultrafeedback_gpt4_vs_null.json"
TRAJECTORY = "cheating_null_models/random_search_trajectory__gpt-4-1106-preview__N10_T384_seed0.csv"
SWITCH_COLUMN = (
    "is_switched_outputs"  # alpaca_eval PairwiseAnnotator: RandomSwitchTwoColumnsProcessor(_switch_column=...)
)
STRUCTURE_MARKER = '"""\n    }\n}\n\nIgnore the above ## Model Outputs'


@cache
def _null_records() -> tuple:
    with open(data_path(NULL_ANNOTATIONS)) as f:
        return tuple(json.load(f))


def load_constant_response() -> str:
    with open(data_path(CONSTANT), encoding="utf-8", newline="") as f:  # keep the "\r" inside the string
        return f.read()


def load_trajectory() -> pd.DataFrame:
    return pd.read_csv(data_path(TRAJECTORY))


def load_judge_prompts() -> dict:
    with open(data_path(PROMPTS)) as f:
        return json.load(f)


# ----------------------------------------------------------------------------- the judge's view
def first_token_probs(raw_completion: dict) -> tuple[float, float]:
    """p("m"), p("M") of the judge's first output token from its top-5 log-probabilities (absent = 0)."""
    top = raw_completion["logprobs"]["content"][0]["top_logprobs"]
    lp = {t["token"]: t["logprob"] for t in top}
    return (float(np.exp(lp["m"])) if "m" in lp else 0.0, float(np.exp(lp["M"])) if "M" in lp else 0.0)


def alpaca_eval_is_switched(instruction: str, seed: int = 0) -> bool:
    """AlpacaEval's presentation order: ``random.Random(switch_column + instruction + str(seed))`` picks
    [False, True] (``RandomSwitchTwoColumnsProcessor``, seeded on the instruction; annotator seed 0).
    True = output_2 (the evaluated model) is shown first, as "m"."""
    return random.Random(SWITCH_COLUMN + instruction + str(seed)).choices([False, True], k=1)[0]


def null_model_table() -> pd.DataFrame:
    """One row per instruction: stored preference, the judge's p(m)/p(M), P(first shown better), the
    preference recomputed from them, the order-hash decision and the slot of the null output."""
    rows = []
    for r in _null_records():
        pm, pM = first_token_probs(r["raw_completion"])
        p_first = pm / (pm + pM) if pm + pM > 0 else np.nan
        sw = alpaca_eval_is_switched(r["instruction"])
        # parser: 2 − P(first better) in the shown order; un-switching maps x -> 3 − x
        recomputed = (1 + p_first) if sw else (2 - p_first)
        rows.append(
            {
                "instruction": r["instruction"],
                "dataset": r["dataset"],
                "preference": r["preference"],
                "p_m": pm,
                "p_M": pM,
                "p_first": p_first,
                "is_switched": sw,
                "recomputed": recomputed,
                "null_slot": "m (first)" if sw else "M (second)",
                "len_baseline": len(r["output_1"]),
                "len_null": len(r["output_2"]),
                "generator_2": r["generator_2"],
            }
        )
    return pd.DataFrame(rows)


def position_split(t: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for slot, g in t.groupby("null_slot"):
        out[slot] = W.win_rates(g["preference"], encoding="alpaca_eval") | {"rows": len(g)}
    return pd.DataFrame(out).T


def judge_position_bias(ann: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per annotated model: raw WR when its output was shown first vs second (order inferred from the
    stored logprobs, ``inferred_is_switched``). Orders are randomized, so the gap estimates position bias."""
    ann = lc.load_annotations() if ann is None else ann
    ann = ann[ann["inferred_is_switched"].notna() & (ann["model"] != lc.BASELINE)]
    rows = {}
    for m, g in ann.groupby("model"):
        first = g[g["inferred_is_switched"] == 1]
        second = g[g["inferred_is_switched"] == 0]
        if len(first) < 50 or len(second) < 50:
            continue
        rows[m] = {
            "wr_shown_first": W.win_rates(first["preference"], encoding="alpaca_eval")["win_rate"],
            "wr_shown_second": W.win_rates(second["preference"], encoding="alpaca_eval")["win_rate"],
            "n_first": len(first),
            "n_second": len(second),
        }
    df = pd.DataFrame(rows).T
    df["first_minus_second"] = df["wr_shown_first"] - df["wr_shown_second"]
    return df


# ----------------------------------------------------------------------------- anatomy of the string
def anatomy(s: str | None = None) -> dict:
    """Split the constant response into the random-search prefix and the structured injection."""
    s = load_constant_response() if s is None else s
    cut = s.find(STRUCTURE_MARKER)
    prefix, structure = (s[:cut], s[cut:]) if cut >= 0 else ("", s)
    return {
        "chars": len(s),
        "prefix_chars": len(prefix),
        "structure_chars": len(structure),
        "prefix": prefix,
        "structure": structure,
        "fake_instruction": "Output nothing" in structure,
        "closes_output_block": structure.startswith('"""'),
        "ignore_line": "Ignore the above ## Model Outputs" in structure,
        "ends_open_output": structure.rstrip().endswith('"output": """'),
        "brace_share_of_prefix": prefix.count("}") / max(len(prefix), 1),
    }


def trajectory_summary(t: pd.DataFrame | None = None, stride: int = 16) -> dict:
    t = load_trajectory() if t is None else t
    accepted = int((t["prefix_token_ids"] != t["prefix_token_ids"].shift()).sum() - 1)
    resets = int((t["best"] > t["best"].shift()).sum())
    return {
        "steps": len(t),
        "final_best_loss": float(t["best"].iloc[-1]),
        "initial_loss": float(t["loss"].iloc[0]),
        "accepted_mutations": accepted,
        "best_resets": resets,
        "n_prefix_tokens": int(t["n_prefix_tokens"].iloc[0]),
        "final_prefix_text": t["prefix_text"].iloc[-1],
        "resets_on_stride": bool(all(int(s) % stride == 0 for s in t.loc[t["best"] > t["best"].shift(), "step"])),
    }


def figure_trajectory(t: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.3))
    ax.plot(t["step"], t["loss"], lw=0.7, alpha=0.6, label="step loss (mean −log p(target) over the prompts used)")
    ax.plot(t["step"], t["best"], lw=1.5, label="best so far (reset when the curriculum adds prompts)")
    ax.set(
        xlabel="random-search step",
        ylabel="loss",
        title="Random search of the prefix against GPT-4-1106 (released log)",
    )
    ax.legend(fontsize=7)
    return fig


def fill_prompt(template: str, response: str) -> str:
    return template.replace("{iclr_2025_adv}", response)


# ============================================================================= the attack in the toy world
# The real search needs GPT-4's log-probabilities; here the same algorithm (paper Alg. 1, "universal random
# search": mutate one position, keep if the mean loss over the public prompts does not increase) runs
# against (a) the toy pairwise judge of replicate.worlds.toy_lm and (b) a *learned* judge — a Bradley–Terry reward
# model fitted to the toy judge's labels — with held-out prompts playing the private benchmark.


class LearnedJudge:
    """r(x, y) = w · φ(x, y): hashed character 1–3-grams of y plus five task-aware features (length, answer
    length relative to the arguments, share of answer characters found in the prompt, filler units, digit
    answer). Fitted as a Bradley–Terry model, P(a ≻ b) = σ(r(x,a) − r(x,b)), on toy-judge labels."""

    def __init__(self, n_features: int = 4096, ngram=(1, 3), C: float = 1.0, ngram_scale: float = 0.2):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.hv = HashingVectorizer(
            analyzer="char", ngram_range=tuple(ngram), n_features=n_features, alternate_sign=False, norm=None
        )
        self.C, self.ngram_scale, self.w = C, ngram_scale, None

    @staticmethod
    def _dense(x: str, y: str) -> list[float]:
        from ...worlds.toy_lm import split_response

        ans, tail = split_response(y)
        a = x.split(":", 1)[1] if ":" in x else x
        overlap = float(np.mean([ch in a for ch in ans])) if ans else 0.0
        return [len(y) / 10, len(ans) / max(len(a), 1), overlap, len(tail) / 5, float(ans.isdigit())]

    def features(self, xs, ys):
        from scipy import sparse

        dense = sparse.csr_matrix(np.array([self._dense(x, y) for x, y in zip(xs, ys)], dtype=float))
        return sparse.hstack([self.hv.transform(list(ys)) * self.ngram_scale, dense]).tocsr()

    def fit(self, xs, ys_a, ys_b, a_wins) -> LearnedJudge:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        d = self.features(xs, ys_a) - self.features(xs, ys_b)
        y = np.asarray(a_wins, dtype=bool)
        m = LogisticRegression(C=self.C, fit_intercept=False, max_iter=5000)
        m.fit(sparse.vstack([d, -d]), np.r_[y, ~y])  # symmetric: no order effect by construction
        self.w = m.coef_[0]
        return self

    def reward(self, xs, ys) -> np.ndarray:
        return self.features(xs, ys) @ self.w

    def prob(self, xs, ys_a, ys_b) -> np.ndarray:
        return W.logistic(self.reward(xs, ys_a) - self.reward(xs, ys_b))


def toy_world(cfg) -> dict:
    """Prompts (public 'train' vs private 'test'), reference responses, the toy judge and the learned judge."""
    from ...worlds.toy_lm import judge_from_cfg, make_prompts, persona_from_cfg, persona_responses

    t, seed = cfg.paper.toy, int(cfg.seed)
    b = lc.budget(cfg) if "budget" in cfg.paper else {}
    n_test = int(b.get("n_test_prompts", t.n_test_prompts))
    prompts = make_prompts(int(t.n_train_prompts) + n_test, seed=seed + 1)
    ref = persona_responses(persona_from_cfg("reference", t.reference), prompts, seed=seed + 2)
    judge = judge_from_cfg(cfg.judge, seed)
    # learned judge: pairs of pool responses on separate prompts, labelled by the toy judge
    n_pairs = int(b.get("n_judge_pairs", t.learned_judge.n_pairs))
    jp = make_prompts(n_pairs, seed=seed + 3)
    pool = [persona_from_cfg(n, d) for n, d in t.pool.items()]
    resp = [persona_responses(p, jp, seed=seed + 10 + i) for i, p in enumerate(pool)]
    rng = np.random.default_rng(seed + 4)
    pick = [rng.choice(len(pool), 2, replace=False) for _ in jp]
    ya = [resp[i][k] for k, (i, _) in enumerate(pick)]
    yb = [resp[j][k] for k, (_, j) in enumerate(pick)]
    labels = [judge.label(x, a, b_) for x, a, b_ in zip(jp, ya, yb)]
    lj = LearnedJudge(
        int(t.learned_judge.n_features),
        tuple(t.learned_judge.ngram),
        float(t.learned_judge.C),
        float(t.learned_judge.ngram_scale),
    ).fit(jp, ya, yb, labels)
    # agreement of the learned judge with the toy judge on fresh pairs
    hp = make_prompts(300, seed=seed + 5)
    h = [persona_responses(p, hp, seed=seed + 20 + i) for i, p in enumerate(pool)]
    agree = np.mean(
        [
            (lj.prob([x], [h[0][k]], [h[-1][k]])[0] > 0.5) == (judge.prob(x, h[0][k], h[-1][k]) > 0.5)
            for k, x in enumerate(hp)
        ]
    )
    ntr = int(t.n_train_prompts)
    return {
        "prompts": prompts,
        "ref": ref,
        "train": list(range(ntr)),
        "test": list(range(ntr, len(prompts))),
        "judge": judge,
        "learned": lj,
        "learned_agreement": float(agree),
        "pool": pool,
    }


def toy_win_probs(w: dict, target: str, c: str, idx, order: str = "both") -> np.ndarray:
    """P(constant c ≻ reference) per prompt under ``target`` ('toy' or 'learned'); for the pairwise toy judge
    ``order`` is 'first', 'second' or 'both' (average of the two presentations = position swapping)."""
    xs = [w["prompts"][i] for i in idx]
    refs = [w["ref"][i] for i in idx]
    if target == "learned":
        return w["learned"].prob(xs, [c] * len(xs), refs)
    j = w["judge"]
    first = np.array([j.prob(x, c, r, a_first=True) for x, r in zip(xs, refs)])
    second = np.array([j.prob(x, c, r, a_first=False) for x, r in zip(xs, refs)])
    return {"first": first, "second": second, "both": (first + second) / 2}[order]


def random_search(w: dict, target: str, *, length: int, steps: int, seed: int, alphabet: str, init_char: str) -> dict:
    """Paper Alg. 1 on characters: start from ``init_char × length``; each step replace one uniformly random
    position by a uniformly random symbol; accept if the mean −log P(c ≻ ref) over the public prompts (both
    presentation orders for the pairwise judge) is ≤ the best so far."""
    rng = np.random.default_rng(seed)
    train = w["train"]

    def loss(c):
        p = (
            toy_win_probs(w, target, c, train, "both")
            if target == "learned"
            else np.concatenate(
                [toy_win_probs(w, target, c, train, "first"), toy_win_probs(w, target, c, train, "second")]
            )
        )
        return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))

    c = init_char * length
    best = loss(c)
    hist = [best]
    accepted = 0
    for _ in range(steps):
        cand = list(c)
        cand[int(rng.integers(length))] = alphabet[int(rng.integers(len(alphabet)))]
        cand = "".join(cand)
        val = loss(cand)
        if val <= best:
            best, c = val, cand
            accepted += 1
        hist.append(best)
    return {"response": c, "best_loss": best, "history": hist, "accepted": accepted, "init": init_char * length}


class CharBigramLM:
    """Add-one character bigram LM fitted on reference outputs: the perplexity filter's language model."""

    def __init__(self, texts):
        from collections import Counter

        self.vocab = sorted(set("".join(texts)) | {"^"})
        self.big = Counter()
        self.uni = Counter()
        for t in texts:
            s = "^" + t
            self.big.update(zip(s, s[1:]))
            self.uni.update(s[:-1])

    def nll(self, text: str, window: int) -> float:
        """Max over windows of the mean per-character negative log-likelihood (windowed perplexity filter)."""
        s = "^" + text
        v = len(self.vocab) + 1
        lp = [-np.log((self.big[(a, b)] + 1) / (self.uni[a] + v)) for a, b in zip(s, s[1:])]
        if len(lp) <= window:
            return float(np.mean(lp))
        return float(max(np.mean(lp[i : i + window]) for i in range(len(lp) - window + 1)))


def toy_defenses(w: dict, c: str, *, window: int) -> dict:
    """Win rate of the constant response c vs the reference on the private prompts, under each judge and
    defense: raw, LC (minimal GLM on lengths), position orders, a windowed-perplexity filter (threshold = the
    largest value among the reference outputs, as the paper's GPT-2 filter) and a length filter (longer than
    every reference output). A filtered response loses every comparison."""
    from ...worlds.toy_lm import oracle_quality

    test = w["test"]
    refs_test = [w["ref"][i] for i in test]
    lm = CharBigramLM([w["ref"][i] for i in w["train"]])
    ppl_thr = max(lm.nll(r, window) for r in refs_test)
    len_thr = max(len(r) for r in refs_test)
    flagged_ppl = lm.nll(c, window) > ppl_thr
    flagged_len = len(c) > len_thr
    out = {
        "ppl_threshold": ppl_thr,
        "ppl_null": lm.nll(c, window),
        "flagged_ppl": bool(flagged_ppl),
        "len_threshold": float(len_thr),
        "len_null": float(len(c)),
        "flagged_len": bool(flagged_len),
        "oracle_quality_null": float(np.mean([oracle_quality(w["prompts"][i], c) for i in test])),
        "oracle_quality_reference": float(np.mean([oracle_quality(w["prompts"][i], w["ref"][i]) for i in test])),
    }
    # clean responders are not flagged (false positives of the filters)
    out["ppl_false_positive_rate"] = float(np.mean([lm.nll(r, window) > ppl_thr for r in refs_test]))
    lens_ref = np.array([len(r) for r in refs_test])
    for target in ("learned", "toy"):
        p = toy_win_probs(w, target, c, test, "both")
        r = W.lc_win_rate(p, np.full(len(test), len(c)), lens_ref)  # no difficulty term (issue #316)
        out[f"{target}.win_rate"] = r["win_rate"]
        out[f"{target}.win_rate_se"] = r["standard_error"]  # the toy claims are judged on its interval
        out[f"{target}.lc_win_rate"] = r["lc_win_rate"]
        out[f"{target}.ppl_filtered_win_rate"] = 0.0 if flagged_ppl else r["win_rate"]
        out[f"{target}.length_filtered_win_rate"] = 0.0 if flagged_len else r["win_rate"]
    for order in ("first", "second"):
        out[f"toy.win_rate_null_{order}"] = float(100 * toy_win_probs(w, "toy", c, test, order).mean())
    return out


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
