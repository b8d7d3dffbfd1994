"""Preference losses as pure functions with their papers' equations, one module per family:

- ``preference``: SimPO and the SimPO Table 4 baselines (DPO, IPO, R-DPO, CPO, SLiC-HF, ORPO, KTO, RRHF, SFT)
- ``nash``: SPPO, INPO, DNO, SPIN (general-preference / self-play objectives)
- ``lcpo``: LCPO's EM wrappers around DPO, IPO, SimPO and CPO (label-noise robust)
- ``token_level``: TGDPO's per-token objective (not sequence-level, so not registered for the hook)
- ``registry``: ``LOSSES`` and ``register``, below every family (no import cycles)

Importing this package registers every sequence-level loss for the trainer hook.
Layer 2 (beside ``models``): imports torch and nothing else from ``replicate``.
"""

from . import lcpo, nash, preference, token_level  # noqa: F401  (each registers its losses)
from .preference import *  # noqa: F401,F403
from .registry import LOSSES, LossSpec, register  # noqa: F401
