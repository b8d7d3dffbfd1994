"""Layer 4, papers: one module per paper (``conf/paper/foo-bar.yaml`` <-> ``foo_bar.py``), found by that name,
and helpers shared by papers (``nash_game``, ``objectives_report``, ``simpo_tune``). Imports layers 0-3."""
