"""Pair rules of the iterative papers as pure functions: the same rule builds a round's pairs in the toy world
(``training.iterative.run_loop``) and on a real model (``real.iterative``). Prompts may be strings or chat
message lists; answers are strings; scores are arrays (NaN = an unparsable judgment).

* ``drift_pairs`` — DRIFT (Wang et al. 2025, card Algorithm step 3b)
* ``sr_pairs`` — Self-Rewarding (Yuan et al. 2024, §2.2), best vs worst of N self-judged samples
* ``anchored_pairs``, ``future_guided`` — Temporal Self-Rewarding, Algorithm 1 Phases 1 and 2
* ``refine_pairs`` — EVOLVE's chain pairs, direct and refinement terms (card, reconstruction)
* ``best_vs_worst``, ``spin_pairs`` — iterative DPO and SPIN (re-exported from ``training.iterative``)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .iterative import REQUIRED, best_vs_worst, spin_pairs  # noqa: F401  (re-exported: every rule in one place)


def drift_pairs(items: dict, positives: list[str]) -> dict:
    """DRIFT (card, Algorithm step 3b): {prompt: x, chosen: y⁺ (the policy's hindsight answer), rejected: y⁻ (the logged
    DSAT answer)} — the feedback and the bad answer are *not* in the training prompt. Items whose new answer equals y⁻
    carry no signal and are dropped. ``items``: {prompt, rejected, ...} lists; ``item`` keeps each pair's log index."""
    out = {"prompt": [], "chosen": [], "rejected": [], "item": []}
    for i, (x, y_minus, y_plus) in enumerate(zip(items["prompt"], items["rejected"], positives)):
        if y_plus != y_minus:
            (
                out["prompt"].append(x),
                out["chosen"].append(y_plus),
                out["rejected"].append(y_minus),
                out["item"].append(i),
            )
    return out


def sr_pairs(prompts, candidates, scores) -> dict:
    """Self-Rewarding (Yuan et al. 2024, §2.2; card "SR pair rule"): the highest- vs the lowest-scored of the N
    candidates, prompts whose scores tie dropped (``iterative.best_vs_worst``); unparsable (NaN) judgments are
    left out first, and a prompt with fewer than two scored candidates is dropped."""
    out = {k: [] for k in REQUIRED}
    for p, c, s in zip(prompts, candidates, np.asarray(scores, dtype=float)):
        ok = ~np.isnan(s)
        if ok.sum() >= 2:  # one prompt at a time: after leaving NaNs out, prompts have different candidate counts
            one = best_vs_worst([p], [[y for y, o in zip(c, ok) if o]], [s[ok]])
            for k in out:
                out[k] += one[k]
    return out


def anchored_pairs(prompts, current, s_current, past, s_past) -> dict:
    """Temporal SR Phase 1, Anchored Rejection (Algorithm 1): chosen = the best-scored sample of M_i; rejected = the
    worst-scored sample of M_0 if it scores below the worst of M_i, else the worst of M_i; kept only if
    score(chosen) > score(rejected). Unparsable (NaN) judgments are left out. Columns ``score_*``, ``rejected_from``."""
    out = {k: [] for k in (*REQUIRED, "score_chosen", "score_rejected", "rejected_from", "best_current")}
    for p, yc, sc, yp, sp in zip(prompts, current, np.asarray(s_current, float), past, np.asarray(s_past, float)):
        okc, okp = ~np.isnan(sc), ~np.isnan(sp)
        if not okc.any():
            continue
        ic = np.flatnonzero(okc)
        best = int(ic[np.argmax(sc[ic])])  # the first of the tied best
        worst_c = int(ic[len(ic) - 1 - np.argmin(sc[ic][::-1])])  # last of the tied worst, as best_vs_worst
        rej, s_rej, src = yc[worst_c], sc[worst_c], "current"
        if okp.any():
            ip = np.flatnonzero(okp)
            worst_p = int(ip[len(ip) - 1 - np.argmin(sp[ip][::-1])])
            if sp[worst_p] < sc[worst_c]:
                rej, s_rej, src = yp[worst_p], sp[worst_p], "past"
        if not sc[best] > s_rej or yc[best] == rej:
            continue
        for k, v in zip(out, (p, yc[best], rej, float(sc[best]), float(s_rej), src, float(sc[best]))):
            out[k].append(v)
    return out


def future_guided(pairs: dict, future, s_future) -> dict:
    """Temporal SR Phase 2, Future-Guided Chosen (Algorithm 1): for each Phase-1 pair, the best-scored sample of the
    future model M_f replaces the chosen only if its score beats the best M_i score; the rejected stays.
    ``future``/``s_future``: per pair, M_f's samples and their scores (judged by M_i). Column ``chosen_from``."""
    out = {k: list(v) for k, v in pairs.items()}
    out["chosen_from"] = ["current"] * len(pairs["prompt"])
    for j, (yf, sf) in enumerate(zip(future, np.asarray(s_future, dtype=float))):
        ok = np.flatnonzero(~np.isnan(sf))
        if not len(ok):
            continue
        b = int(ok[np.argmax(sf[ok])])
        if sf[b] > pairs["best_current"][j] and yf[b] != pairs["rejected"][j]:
            out["chosen"][j], out["score_chosen"][j], out["chosen_from"][j] = yf[b], float(sf[b]), "future"
    return out


def refine_pairs(prompts: Sequence, chains: Sequence[Sequence[str]], scores, context: Callable) -> dict:
    """EVOLVE's pairs from self-refinement chains (card, "Data collection", (a) reward-model scoring): y_w, y_l = the
    highest- and lowest-scoring of the chain {y⁰..y^J} (ties and identical texts dropped, ``best_vs_worst``), each pair
    entering L_pref = L_DPO(x; y_w, y_l) + L_DPO(c_ref(x, y_l); y_w, y_l) (card, preference stage, reconstruction) as
    two DPO rows: ``term`` direct / refine, ``task_prompt`` x, ``chosen_step``/``rejected_step`` the chain positions.
    ``context(x, y)`` builds c_ref(x, y): a toy-world string or a real model's chat messages."""
    out = {k: [] for k in ("prompt", "chosen", "rejected", "term", "task_prompt", "chosen_step", "rejected_step")}
    for x, c, s in zip(prompts, chains, np.asarray(scores, dtype=float)):
        best = best_vs_worst([x], [c], [s])
        for w, l_ in zip(best["chosen"], best["rejected"]):
            for prompt, term in ((x, "direct"), (context(x, l_), "refine")):
                out["prompt"].append(prompt), out["chosen"].append(w), out["rejected"].append(l_)
                out["term"].append(term), out["task_prompt"].append(x)
                out["chosen_step"].append(list(c).index(w)), out["rejected_step"].append(list(c).index(l_))
    return out
