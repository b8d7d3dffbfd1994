"""Layer 3, metrics: numbers computed from outputs, and the verdicts drawn from them. AlpacaEval win rates
and the LC GLM (``winrate``), ``wildbench``, ``correlation``, ``density_ratio`` rewards, policy
``evaluation`` in the toy world, ``verdicts`` on intervals, and ``claims``: the claim / metrics-file
containers every paper writes through. Imports ``models``, ``losses``, ``worlds``, ``core``."""
