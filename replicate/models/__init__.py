"""Layer 2, models: the policies. ``lm`` builds the tiny Llama (and loads Hub checkpoints for GPU scales),
``sampling`` generates from it in batches. Beside ``losses`` (also layer 2); imports ``worlds`` and ``core``."""
