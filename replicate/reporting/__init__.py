"""Layer 5, reporting: what is rendered from results files. ``tables`` (results/tables/*.md, with each
paper's own ``render_table``, and docs/deviations.md) and ``plots`` (figures). Imports ``papers`` and below."""
