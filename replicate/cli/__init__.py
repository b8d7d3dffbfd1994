"""Layer 6, cli: the command line on top of everything. ``main`` (the ``replicate`` command and
``python -m replicate``), ``run`` (config -> papermill notebook), ``check`` (``make check``), ``winrate``
(``replicate winrate`` on an annotations file), ``nbstrip`` (``make strip``). Nothing imports it."""
