"""Layer 3, training: how a policy learns. ``data`` builds SFT and preference datasets from the toy world,
``trl_hook`` is the one TRL hook (``PreferenceTrainer``, ``sft``, ``train_preference``) for every loss in
``losses``, ``launch`` is the multi-GPU entry point for ``scale=paper``. Reward models, online RL and
iterative loops belong here too. Imports ``metrics`` (same layer), ``models``, ``losses``, ``worlds``, ``core``."""
