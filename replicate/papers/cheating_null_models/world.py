"""The null-model attack in the toy world: the paper's universal random search (Alg. 1) of one constant response
against (a) the toy pairwise judge and (b) a learned Bradley–Terry judge fitted to its labels, with held-out prompts
playing the private benchmark, and the defenses (a windowed-perplexity filter, a length filter, LC).

The real search needs GPT-4's log-probabilities; here the same algorithm (mutate one position, keep if the mean loss
over the public prompts does not increase) runs against judges whose flaws are known.
"""

from __future__ import annotations

import numpy as np

from ...metrics import winrate
from ..lc_alpacaeval import experiment as lc


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
        return winrate.logistic(self.reward(xs, ys_a) - self.reward(xs, ys_b))


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
        r = winrate.lc_win_rate(p, np.full(len(test), len(c)), lens_ref)  # no difficulty term (issue #316)
        out[f"{target}.win_rate"] = r["win_rate"]
        out[f"{target}.win_rate_se"] = r["standard_error"]  # the toy claims are judged on its interval
        out[f"{target}.lc_win_rate"] = r["lc_win_rate"]
        out[f"{target}.ppl_filtered_win_rate"] = 0.0 if flagged_ppl else r["win_rate"]
        out[f"{target}.length_filtered_win_rate"] = 0.0 if flagged_len else r["win_rate"]
    for order in ("first", "second"):
        out[f"toy.win_rate_null_{order}"] = float(100 * toy_win_probs(w, "toy", c, test, order).mean())
    return out
