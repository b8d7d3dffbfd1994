"""Layer 4, papers: one module or package per paper (``conf/paper/foo-bar.yaml`` <-> ``foo_bar``), found by that
name, and helpers shared by papers (``nash_game``, ``objectives_report``). Imports layers 0-3."""
