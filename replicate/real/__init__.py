"""The real-model path: any LM-world paper on a Hugging Face model (``scale=small``) and SimPO's paper-scale
pipeline (``scale=paper``). One job per module, in the order data flows:

    methods      what a paper's ``real:`` block asks for (kinds, validation)
    preflight    everything a run needs, checked before any compute (models, datasets, judge, packages, GPU)
    keys         cache keys of the stages (model files, config slices, versions, code)
    data         datasets by id or path, converted to TRL's formats (UltraFeedback, WildFeedback, Instruct-SkillMix)
    engines      generation: one vLLM engine per process (torn down before training) or batched ``generate``
    fit          fine-tuning through TRL (LoRA or full with fp32 master weights) and the ``train`` stage
    scorers      models that score text, loaded once per process: reward models, the rule verifier
    judges       P(model ≻ baseline) per instruction: a reward model, AlpacaEval's annotator, stored annotations
    iterative    kind ``iterative``: T rounds of sample → label → pair → DPO (DRIFT, SR/TSR, EVOLVE, IterDPO)
    rl           kind ``grpo``: TRL's GRPOTrainer against a shaped reward model (PAR, AutoRule)
    runner       scale=small for a notebook: train → generate → judge every method
    report       AlpacaEval metrics, claims, metrics.json and the table beside the paper's numbers
    pipeline     scale=paper (SimPO): train → generate → judge → metrics, each stage alone and cached
    launch       the paper-scale training entry point (``accelerate launch -m replicate.real.launch``)
    gpu_check    ``make gpu-check``: every stage above on a randomly initialised Qwen2.5-0.5B-shaped model

Notebooks use the names below (``from replicate import real``): ``real.applies``, ``real.run``, ``real.summary``,
``real.save``, ``real.render_table``, and for a notebook's appendix ``real.example`` (one instruction, every method's
answer) and ``real.report_markdown`` (a saved run's claims and table).
"""

from .report import claims, example, flat_metrics, render_table, report_markdown, save, summary
from .runner import applies, run, trained

__all__ = [
    "applies",
    "claims",
    "example",
    "flat_metrics",
    "render_table",
    "report_markdown",
    "run",
    "save",
    "summary",
    "trained",
]
