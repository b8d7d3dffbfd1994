"""replicate: reproducible, tiny-scale-first replications of LLM preference-learning papers.

Modules (one job each):
  config      Hydra composition, validation, clear errors before compute
  io          atomic writes, content hashes, stage cache
  provenance  versions, commit, config hash, seed
  world       toy instruction world: skills, oracle, judges, reference policy
  tokenizer   character tokenizer with a chat template (a transformers tokenizer)
  models      tiny Llama builder, HF loading path
  sampling    batched generation with KV cache
  data        SFT / preference datasets, on-policy pair building
  losses      preference losses as pure functions (paper equations in docstrings)
  train       SFT and one TRL hook for every preference loss
  evaluation  toy-world evaluation: win rates vs the reference, agreement, reward accuracy
  winrate     AlpacaEval win rates and the length-controlled GLM
  results     reported vs reproduced, claims, tables, check
  plots       figures
  run         config -> papermill notebook
"""

__version__ = "0.1.0"
