"""Padding a preference step computes, and what running a batch's rows in length groups saves (issue 7).

TRL pads each [chosen; rejected] batch to its longest row; at tiny scale about a third of the tokens are padding.
``PreferenceTrainer.sequence_logps`` runs the rows of a batch in up to 4 groups of similar length
(``trl_hook.length_groups``), each trimmed to its own longest row: the same pairs make each update, so the
gradient is the same up to float rounding. Also measured: the same grouped step through TRL's chunked LM head
instead of the plain log-softmax the hook uses below ``trl_hook.SMALL_VOCAB`` (same log-probs). Measured side by side in one run (interleaved repeats, median) on
the SimPO pairs of one seed, one thread, forward + backward of the SimPO loss:

    make bench-groups                      # scale=tiny, both settings
    make bench-groups ARGS="scale=ci"

Writes bench/results/length_groups.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"


def batches_of(cfg, setting: str, n: int):
    """The first ``n`` training batches TRL's dataloader gives for this seed and setting, and a trainer."""
    from trl import DPOConfig

    from replicate.papers import simpo
    from replicate.training.trl_hook import PreferenceTrainer, common_args

    world = simpo.build_world(cfg)
    pairs = simpo.preference_pairs(cfg, world)
    ds = simpo.preference_dataset_on_disk(cfg, pairs, setting)
    args = DPOConfig(
        **common_args(
            cfg.hardware,
            seed=int(cfg.seed),
            lr=1e-4,
            batch_size=int(cfg.scale.pref.batch_size),
            output_dir=tempfile.mkdtemp(),
            max_steps=1,
            epochs=1,
            warmup=0.1,
        ),
        precompute_ref_log_probs=True,
        max_length=world.tokenizer.model_max_length,
    )
    tr = PreferenceTrainer(
        model=simpo.sft_model(cfg, world),
        args=args,
        train_dataset=ds,
        processing_class=world.tokenizer,
        loss="simpo",
        loss_kwargs={"beta": 2.0, "gamma": 1.0},
    )
    return tr, [b for _, b in zip(range(n), tr.get_train_dataloader())]


def utilisation(batches, groups: int) -> float:
    """Real tokens over tokens computed when each batch runs in ``groups`` length groups."""
    real = tot = 0
    for b in batches:
        lens = b["attention_mask"].sum(1).sort().values
        real += int(lens.sum())
        tot += sum(len(g) * int(g.max()) for g in lens.chunk(groups))
    return real / tot


def step_ms(tr, batches, rows_per_group: int, small_vocab: int | None = None) -> float:
    import replicate.training.trl_hook as H

    old, H.ROWS_PER_GROUP = H.ROWS_PER_GROUP, rows_per_group
    old_vocab, H.SMALL_VOCAB = H.SMALL_VOCAB, H.SMALL_VOCAB if small_vocab is None else small_vocab
    try:
        tr.model.train()
        t = time.perf_counter()
        for b in batches:
            tr.compute_loss(tr.model, b).backward()
            tr.model.zero_grad()
        return 1000 * (time.perf_counter() - t) / len(batches)
    finally:
        H.ROWS_PER_GROUP, H.SMALL_VOCAB = old, old_vocab


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="+", default=["base", "instruct"])
    ap.add_argument("--batches", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(OUT / "length_groups.json"))
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    import torch

    from replicate.core.config import compose
    from replicate.core.io import atomic_write_json
    from replicate.papers import simpo

    cfg = compose("simpo", ["hardware.workers=1", *a.overrides])
    simpo.setup_torch(cfg)
    torch.set_num_threads(1)
    res = {"scale": cfg.scale.name, "seed": int(cfg.seed), "threads": 1, "settings": {}}
    for setting in a.settings:
        tr, batches = batches_of(cfg, setting, a.batches)
        times = {"one_forward": [], "length_groups": [], "trl_fused_head": []}
        for _ in range(a.repeats):  # interleaved: a load change hits all alike
            times["one_forward"].append(step_ms(tr, batches, 10**9))
            times["length_groups"].append(step_ms(tr, batches, 16))
            times["trl_fused_head"].append(step_ms(tr, batches, 16, small_vocab=0))  # groups, TRL's chunked head
        med = {k: statistics.median(v) for k, v in times.items()}
        res["settings"][setting] = {
            "batch_rows": int(batches[0]["input_ids"].shape[0]),
            "n_batches": len(batches),
            "tokens_real_share": {"one_forward": utilisation(batches, 1), "4_groups": utilisation(batches, 4)},
            "ms_per_step": med,
            "speedup": med["one_forward"] / med["length_groups"],
            "speedup_log_softmax": med["trl_fused_head"] / med["length_groups"],
            "repeats": times,
        }
        r = res["settings"][setting]
        print(
            f"{setting}: real tokens {r['tokens_real_share']['one_forward']:.0%} → {r['tokens_real_share']['4_groups']:.0%}; "
            f"{med['one_forward']:.1f} → {med['length_groups']:.1f} ms/step ({r['speedup']:.2f}×); "
            f"TRL's chunked head {med['trl_fused_head']:.1f} ms/step, plain log-softmax {r['speedup_log_softmax']:.2f}× faster"
        )
    atomic_write_json(Path(a.out), res)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
