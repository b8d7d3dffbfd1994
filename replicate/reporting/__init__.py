"""Layer 5, reporting: what is rendered from results files. ``tables`` (results/tables/*.md, with each
paper's own ``render_table``, and docs/deviations.md), ``plots`` (figures), ``findings`` (a notebook's "What we found"
from its claims), ``published`` (results/notebooks/), ``paper_index`` and ``site``. Imports ``papers`` and below."""
