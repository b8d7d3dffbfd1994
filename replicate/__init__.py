"""replicate: reproducible, tiny-scale-first replications of LLM preference-learning papers.

Subpackages, bottom to top; a module imports only from its own layer or lower ones
(tests/test_layout.py; docs/architecture.md, "Layout"):

  0 core       config (Hydra composition, validation), io (atomic writes, hashes, stage cache), provenance, paths
  1 worlds     toy_lm (toy instruction world: skills, oracle, judges), tokenizer, tabular (preference game), public_data
  2 models     lm (tiny Llama builder, Hub loading), sampling (batched generation)
  2 losses     preference losses as pure functions, one module per family above a registry
  3 metrics    winrate (AlpacaEval + LC GLM), wildbench, correlation, density_ratio, evaluation, verdicts, claims
  3 training   data (SFT / preference datasets), trl_hook (one TRL hook for every loss), launch (multi-GPU)
  4 papers     one module per paper (conf/paper/foo-bar.yaml <-> papers/foo_bar.py), and shared paper helpers
  5 reporting  tables (make tables), plots
  6 cli        main (the replicate command), run (config -> papermill), check, winrate, nbstrip
"""

__version__ = "0.1.0"
