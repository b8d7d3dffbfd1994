"""Where the repository is: the one module that knows how deep it sits (``replicate/core/paths.py``).

Everything that reads or writes under the checkout (``conf/``, ``results/``, ``build/``, ``.cache/``,
``notebooks/``, ``docs/``) starts from ``ROOT``, so moving a module never silently moves its outputs.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """Where generated, uncommitted files go (executed notebooks, logs): ``REPLICATE_BUILD_DIR``, else ``build/``."""
    import os

    return Path(os.environ.get("REPLICATE_BUILD_DIR", ROOT / "build"))
