"""Layer 1, worlds: where the data comes from. The toy instruction world (``toy_lm``: skills, oracle,
judges, personas) and its character ``tokenizer``; the ``tabular`` preference game; the ``public_data``
files (AlpacaEval, WildBench, null-model artifacts) the evaluation papers read. Imports only ``core``."""
