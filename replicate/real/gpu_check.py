"""``make gpu-check``: every real-model stage once, on a randomly initialised model of Qwen2.5-0.5B's shape
(``conf/gpu_check/qwen2.5-0.5b.json``), a small word-level tokenizer built here and synthetic data, so it needs no
network and no data bundle. It prints, per stage, the time, the step time, tokens/s, the peak memory and the model
FLOPs utilisation (MFU) against the GPU's dense bf16 peak, and writes them to ``<out>/gpu_check.json``.

    python -m replicate.real.gpu_check [device=cuda|cpu] [size=full|tiny] [out=build/gpu-check]

Stages: LoRA and full fine-tuning (SimPO through the preference hook; bf16 on a GPU, full with fp32 master weights),
batched ``generate`` (and vLLM when installed), the reward-model judge, one GRPO step, one iterative round, and the
paper pipeline's generate → judge → metrics with the stub annotator. Without CUDA, ``device=cuda`` exits 2 at once;
``device=cpu size=tiny`` runs the same stages on CPU in about a minute (a test in ``make test`` runs it).

FLOPs per token (PaLM, App. B): forward 2N + 2·L·d·T (N parameters with the tied LM head counted once, L layers,
width d, context T); training 3× the forward for full fine-tuning, 2× for LoRA (no weight gradients of the frozen
base). Generation is memory-bound, so its MFU is low by nature; it is reported to compare runs, not to reach a peak.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import torch

from ..core.paths import ROOT

CONFIG = ROOT / "conf" / "gpu_check" / "qwen2.5-0.5b.json"
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
TINY.update({"num_key_value_heads": 2, "vocab_size": 512, "max_window_layers": 2})
# dense bf16 peak FLOP/s from the vendors' data sheets (without sparsity); matched on torch's device name
PEAK_BF16 = (("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("A100", 312e12), ("L40S", 362e12))
SIZES = {  # prompt/response tokens, steps, batch, prompts: minutes on one H100 (full), seconds on CPU (tiny)
    "full": {"prompt": 128, "response": 256, "steps": 8, "batch": 8, "n_eval": 128, "new": 256, "rl_new": 128},
    "tiny": {"prompt": 8, "response": 8, "steps": 2, "batch": 2, "n_eval": 6, "new": 6, "rl_new": 6},
}
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
WORDS = ["user", "assistant", "system", "Score:", "Yes", "No", "yes", "no", *"012345"]
CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class Usage(SystemExit):
    """A bad argument or a missing GPU: one line, exit code 2."""


def parse(argv: list[str]) -> dict:
    opts = {"device": "cuda", "size": "full", "out": str(ROOT / "build" / "gpu-check")}
    for a in argv:
        k, eq, v = a.partition("=")
        if not eq or k not in opts:
            raise Usage(f"gpu-check: unknown argument {a!r}; use device=cuda|cpu size=full|tiny out=DIR")
        opts[k] = v
    if opts["device"] not in ("cuda", "cpu") or opts["size"] not in SIZES:
        raise Usage(f"gpu-check: device must be cuda or cpu and size full or tiny, got {opts}")
    if opts["device"] == "cuda" and not torch.cuda.is_available():
        raise Usage(
            "gpu-check: no CUDA device is visible (torch.cuda.is_available() is False), so there is nothing to "
            'check here; `make gpu-check ARGS="device=cpu size=tiny"` runs the same stages on CPU'
        )
    return opts


# ----------------------------------------------------------------------------- a model, a tokenizer, data
def tokenizer(vocab_size: int):
    """A word-level tokenizer with exactly ``vocab_size`` entries (every sampled id decodes), a ChatML template and
    no BOS, as Qwen2.5's; the words w0, w1, ... make the synthetic text, so a token count is a word count."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    names = SPECIAL + WORDS
    vocab = {t: i for i, t in enumerate(names + [f"w{i}" for i in range(vocab_size - len(names))])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<unk>"
    )
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tok.chat_template = CHAT
    return tok


def build(work: Path, size: str) -> dict:
    """The policy and a reward model of the same shape (random, seeded) with the tokenizer, saved under ``work``."""
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

    raw = {k: v for k, v in json.loads(CONFIG.read_text()).items() if not k.startswith("_")}
    if size == "tiny":
        raw.update(TINY)
    tok = tokenizer(int(raw["vocab_size"]))
    raw.update(bos_token_id=None, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    cfg = Qwen2Config(**raw)
    torch.manual_seed(0)
    for name, cls, extra in (("lm", Qwen2ForCausalLM, {}), ("rm", Qwen2ForSequenceClassification, {"num_labels": 1})):
        model = cls(Qwen2Config(**{**cfg.to_dict(), **extra})).to(torch.bfloat16)
        model.save_pretrained(work / name)
        tok.save_pretrained(work / name)
        n = sum(p.numel() for p in model.parameters())
        del model
    return {
        "params": n,
        "layers": cfg.num_hidden_layers,
        "width": cfg.hidden_size,
        "vocab": cfg.vocab_size,
        "tok": tok,
    }


def words(rng: random.Random, n: int, vocab: int) -> str:
    return " ".join(f"w{rng.randrange(vocab - len(SPECIAL) - len(WORDS))}" for _ in range(n))


def synthetic_data(work: Path, sz: dict, vocab: int) -> None:
    """UltraFeedback-binarized pairs (its published schema), GRPO/iterative prompts, AlpacaEval-format instructions
    with baseline answers, and stored annotations for the stub annotator; every text a fixed number of tokens."""
    from datasets import Dataset

    rng = random.Random(0)
    n = sz["steps"] * sz["batch"]
    rows = []
    for i in range(n):
        x, yw, yl = (words(rng, k, vocab) for k in (sz["prompt"], sz["response"], sz["response"]))
        conv = lambda y, x=x: [{"role": "user", "content": x}, {"role": "assistant", "content": y}]
        rows.append(
            {"prompt": x, "prompt_id": f"{i:064x}", "chosen": conv(yw), "rejected": conv(yl), "messages": conv(yw)}
            | {"score_chosen": 8.0, "score_rejected": 4.0}
        )
    Dataset.from_list(rows).save_to_disk(str(work / "pairs"))
    with open(work / "prompts.jsonl", "w") as f:
        for _ in range(max(8, sz["batch"] * 2)):
            f.write(json.dumps({"prompt": words(rng, sz["prompt"], vocab)}) + "\n")
    evals = [
        {"instruction": words(rng, sz["prompt"], vocab), "output": words(rng, sz["response"], vocab)}
        | {"generator": "gpt4_1106_preview", "dataset": "synthetic"}
        for _ in range(sz["n_eval"])
    ]
    for r in evals:
        r["baseline_output"] = r["output"]
    (work / "data" / "alpaca_eval").mkdir(parents=True)
    (work / "data" / "alpaca_eval" / "eval_set_805_with_gpt4_1106_preview_baseline_outputs.json").write_text(
        json.dumps(evals)
    )
    stub = [{"instruction": r["instruction"], "preference": 1.0 + rng.random()} for r in evals]
    (work / "annotations.json").write_text(json.dumps(stub))


# ----------------------------------------------------------------------------- measuring
def peak_bf16() -> tuple[str, float | None]:
    if not torch.cuda.is_available():
        return "cpu", None
    name = torch.cuda.get_device_name()
    return name, next((v for k, v in PEAK_BF16 if k in name), None)


class Meter:
    """Times one stage and reads its peak memory (CUDA: allocated by torch; CPU: the process's peak RSS)."""

    def __init__(self, spec: dict, device: str):
        self.spec, self.device, self.rows = spec, device, []
        self.name, self.peak = peak_bf16()

    def flops_per_token(self, context: int, factor: int) -> float:
        s = self.spec
        return factor * (2 * s["params"] + 2 * s["layers"] * s["width"] * context)

    def run(self, stage: str, fn, *, tokens=None, steps=1, context=0, factor=1) -> object:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            mem = torch.cuda.max_memory_allocated() / 2**30
        else:
            mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        dt = time.perf_counter() - t0
        n = tokens(out) if callable(tokens) else tokens
        rate = n / dt if n else None
        mfu = rate * self.flops_per_token(context, factor) / self.peak if rate and self.peak and factor else None
        row = {"stage": stage, "seconds": dt, "step_seconds": dt / steps, "tokens": n, "tokens_per_s": rate}
        self.rows.append(row | {"peak_memory_gib": mem, "mfu": mfu})
        print(format_row(self.rows[-1]), flush=True)
        return out


def format_row(r: dict) -> str:
    f = lambda v, p: "–" if v is None else f"{v:{p}}"
    return (
        f"{r['stage']:<34} {r['seconds']:8.1f} s  step {r['step_seconds']:7.2f} s  {f(r['tokens_per_s'], '10.0f')} tok/s"
        f"  peak {r['peak_memory_gib']:6.2f} GiB  MFU {f(r['mfu'] and 100 * r['mfu'], '5.1f')} %"
    )


# ----------------------------------------------------------------------------- the stages
def overrides(work: Path, sz: dict, device: str) -> list[str]:
    return [
        "scale=small",
        f"model.name_or_path={work / 'lm'}",
        f"judge.name_or_path={work / 'rm'}",
        f"hardware={'gpu' if device == 'cuda' else 'cpu'}",
        f"scale.finetune.steps={sz['steps']}",
        f"scale.finetune.batch_size={sz['batch']}",
        f"scale.finetune.global_batch_size={sz['batch']}",
        f"scale.finetune.max_length={sz['prompt'] + sz['response'] + 16}",
        f"scale.world.n_eval={sz['n_eval']}",
        f"scale.sample.max_new_tokens={sz['new']}",
        f"scale.sample.batch_size={sz['n_eval']}",
        "scale.generator=hf",
        f"results_dir={work / 'results'}",
        f"figures_dir={work / 'figures'}",
    ]


def stages(work: Path, sz: dict, device: str, meter: Meter) -> None:
    from omegaconf import open_dict

    from ..core.config import compose
    from . import engines, iterative, judges, pipeline, rl
    from .data import eval_instructions, load_rows

    ov = overrides(work, sz, device)
    cfg = compose("simpo", ov)
    pairs = load_rows(str(work / "pairs"), "train", sz["steps"] * sz["batch"], 0, "preference")
    seq = sz["prompt"] + 2 * sz["response"] + 8  # chosen and rejected each with the prompt, and the template's tokens
    pair_tokens = sz["steps"] * sz["batch"] * (2 * sz["prompt"] + 2 * sz["response"] + 16)
    simpo = {"kind": "preference", "loss": "simpo", "beta": 2.0, "gamma": 1.0, "lr": 6e-7}
    for mode, factor in (("lora", 2), ("full", 3)):
        c = compose("simpo", [*ov, f"scale.finetune.mode={mode}"])
        from .fit import fit

        meter.run(
            f"fit: SimPO, {mode}",
            lambda c=c, mode=mode: fit(c, work / "lm", pairs, simpo, work / f"fit-{mode}"),
            tokens=pair_tokens,
            steps=sz["steps"],
            context=seq // 2,
            factor=factor,
        )
    xs = [r["instruction"] for r in eval_instructions(cfg)]
    count = lambda outs: sum(len(y.split()) for o in outs for y in o)
    meter.run(
        "generate: batched transformers",
        lambda: engines.generate(cfg, work / "lm", xs, tag="hf"),
        tokens=count,
        context=sz["prompt"] + sz["new"] // 2,
        factor=1,
    )
    if engines.vllm_installed() and device == "cuda":
        with open_dict(cfg):
            cfg.scale.generator = "vllm"
        meter.run(
            "generate: vLLM",
            lambda: engines.generate(cfg, work / "lm", xs, tag="vllm"),
            tokens=count,
            context=sz["prompt"] + sz["new"] // 2,
            factor=1,
        )
        engines.release()
        with open_dict(cfg):
            cfg.scale.generator = "hf"
    base = [r["baseline_output"] for r in eval_instructions(cfg)]
    meter.run(
        "judge: reward model",
        lambda: judges.judge(cfg, xs, base, base, tag="check"),
        tokens=2 * len(xs) * (sz["prompt"] + sz["response"] + 8),
        context=(sz["prompt"] + sz["response"]) // 2,
        factor=1,
    )
    rl_ov = [
        f"paper.real.rl.data={work / 'prompts.jsonl'}",
        f"paper.real.rl.prompts={sz['batch']}",
        f"paper.real.rl.prompts_per_step={sz['batch']}",
        "paper.real.rl.epochs=1",
        "paper.real.rl.num_generations=2",
        f"paper.real.rl.max_new_tokens={sz['rl_new']}",
        f"paper.real.sample.max_new_tokens={sz['rl_new']}",
        "paper.real.rl.n_refs=2",
    ]
    pc = compose("par", [*ov, *rl_ov])
    m = {"kind": "grpo", "shaping": "par", "k": 1.0}
    meter.run(
        "GRPO: one step (PAR shaping)",
        lambda: rl.train(pc, "par", m),
        tokens=sz["batch"] * 2 * (sz["prompt"] + sz["rl_new"]),
        context=sz["prompt"] + sz["rl_new"] // 2,
        factor=3,
    )
    it = {"kind": "iterative", "rule": "iterdpo", "loss": "dpo", "beta": 0.1, "lr": 5e-7, "rounds": 1, "n": 2}
    it |= {"rows_per_round": sz["batch"], "data": str(work / "prompts.jsonl"), "sample": {"max_new_tokens": sz["new"]}}
    meter.run("iterative: one IterDPO round", lambda: iterative.train(cfg, "iterdpo", it), tokens=None)
    pov = [
        "scale=paper",
        "setup=simpo_llama3_instruct",
        f"hardware={'gpu' if device == 'cuda' else 'cpu'}",
        f"judge.annotations={work / 'annotations.json'}",
        f"+pipeline_model={work / 'lm'}",
        f"scale.world.n_eval={sz['n_eval']}",
        f"setup.eval.max_new_tokens={sz['new']}",
        "scale.generator=hf",
        f"results_dir={work / 'results'}",
    ]
    meter.run(
        "pipeline: generate → judge → metrics",
        lambda: pipeline.pipeline("simpo", pov, ("generate", "judge", "metrics")),
        tokens=None,
    )


def main(argv=None) -> int:
    try:
        opts = parse(list(sys.argv[1:] if argv is None else argv))
    except Usage as e:
        print(e.code, file=sys.stderr)
        return 2
    out = Path(opts["out"])
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {  # everything local: the synthetic data bundle, a fresh stage cache, no Hub
        "REPLICATE_DATA_DIR": str(work / "data"),
        "REPLICATE_CACHE_DIR": str(work / "cache"),
        "REPLICATE_BUILD_DIR": str(work / "build"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    if opts["device"] == "cpu":
        env["REPLICATE_ASSUME_GPU"] = "1"  # scale=small asks for a GPU; the CPU form runs its code path on purpose
    os.environ.update(env)
    sz = SIZES[opts["size"]]
    t0 = time.perf_counter()
    spec = build(work, opts["size"])
    synthetic_data(work, sz, spec["vocab"])
    meter = Meter(spec, opts["device"])
    print(
        f"gpu-check {date.today()}: {meter.name}, bf16 peak {meter.peak and meter.peak / 1e12} TFLOP/s; model "
        f"{spec['params'] / 1e6:.1f}M parameters ({opts['size']}), torch {torch.__version__}",
        flush=True,
    )
    stages(work, sz, opts["device"], meter)
    total = time.perf_counter() - t0
    doc = {"date": str(date.today()), "device": meter.name, "bf16_peak_flops": meter.peak, "options": opts}
    doc |= {"params": spec["params"], "seconds": total, "stages": meter.rows}
    (out / "gpu_check.json").write_text(json.dumps(doc, indent=1))
    print(f"gpu-check passed: {len(meter.rows)} stages in {total:.0f} s; {out / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
