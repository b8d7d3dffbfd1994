"""``make strip``: store notebooks without outputs or execution counts (papermill writes executed
copies to build/, never back into notebooks/)."""

from __future__ import annotations

import sys

import nbformat


def strip(path: str) -> bool:
    nb = nbformat.read(path, as_version=4)
    changed = False
    for c in nb.cells:
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None):
            c.outputs, c.execution_count, changed = [], None, True
        for k in ("papermill", "execution"):
            if k in c.metadata:
                del c.metadata[k]
                changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv=None) -> int:
    for p in sys.argv[1:] if argv is None else argv:
        if strip(p):
            print(f"stripped {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
