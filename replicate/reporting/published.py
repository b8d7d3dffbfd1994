"""Executed notebooks a reader can open without running anything: ``results/notebooks/<paper>-<scale>.ipynb``.

``replicate run`` writes one at ``scale=tiny`` (the run that writes the committed ``metrics.json``), beside the
results, from the executed copy in ``build/notebooks/``: the same cells and outputs (numbers, tables, figures),
without what changes from one run or machine to the next — papermill's timings and paths, execution timestamps,
the library chatter on stderr (it stays in ``build/logs/``), and the checkout's absolute path in printed text — so that
a re-run with the same numbers rewrites the same file, and a code host or ``make report`` shows it as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.io import atomic_write_text
from ..core.paths import ROOT

SCALES = ("tiny",)  # the scales whose executed notebook is published (the committed metrics.json's scale)
MAX_BYTES = 2_000_000  # per notebook: a few figures at 110 dpi and the printed tables; more means a figure is too big
_VOLATILE_CELL_KEYS = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")


def _clean_text(text, root: str):
    """Printed paths relative to the checkout (``wrote results/...`` instead of ``wrote /home/.../results/...``)."""
    if isinstance(text, list):
        return [_clean_text(t, root) for t in text]
    return text.replace(root + "/", "").replace(root, ".") if isinstance(text, str) else text


def readable(nb: dict, root: Path = ROOT) -> dict:
    """A copy of an executed notebook without volatile metadata, stderr streams or absolute checkout paths."""
    r = str(root)
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in ("kernelspec", "language_info")}
    nb["metadata"].get("language_info", {}).pop("version", None)  # the patch release of the machine that ran it
    for c in nb["cells"]:
        for k in _VOLATILE_CELL_KEYS:
            c.get("metadata", {}).pop(k, None)
        if c["cell_type"] != "code":
            continue
        outputs = []
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                continue
            if "text" in o:
                o["text"] = _clean_text(o["text"], r)
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in o.get("data", {}):
                    o["data"][mime] = _clean_text(o["data"][mime], r)
            o.get("metadata", {}).pop("execution", None)
            outputs.append(o)
        c["outputs"] = outputs
    return nb


def publish(executed: Path, paper: str, scale: str, out_dir: Path, *, max_bytes: int = MAX_BYTES) -> Path:
    """Write ``<out_dir>/<paper>-<scale>.ipynb`` from an executed notebook, atomically; a notebook over ``max_bytes``
    is refused (ValueError naming its size and largest outputs) rather than committed."""
    text = json.dumps(readable(json.loads(Path(executed).read_text())), indent=1, ensure_ascii=False) + "\n"
    size = len(text.encode())
    if size > max_bytes:
        raise ValueError(
            f"{paper}-{scale}.ipynb would be {size:,} bytes, over the {max_bytes:,}-byte cap for a published notebook "
            "(replicate.reporting.published.MAX_BYTES): make its figures smaller or print less"
        )
    return atomic_write_text(Path(out_dir) / f"{paper}-{scale}.ipynb", text)
