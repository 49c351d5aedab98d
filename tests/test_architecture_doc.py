"""docs/architecture.md's tree names every module of both packages, and nothing that is not there.

The tree is the newcomer's map (the issue that asked for it found four modules missing from it), so it is
held to the file system: a module added, moved or removed without its line fails here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("nemo_provider", "nemo_local")


def _tree_block() -> list[str]:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("```\n") + 4
    return text[start : text.index("```\n", start)].splitlines()


def named_in_tree() -> set[str]:
    """Every ``.py`` path the tree names, relative to the repository (folders nest by two spaces)."""
    folders: dict[int, str] = {}
    named: set[str] = set()
    for line in _tree_block():
        indent = len(line) - len(line.lstrip())
        if not line.strip() or indent >= 20:  # a description's continuation line
            continue
        names = re.split(r"\s{2,}", line.strip())[0]
        parent = "/".join(folders[i] for i in sorted(folders) if i < indent)
        for k in [k for k in folders if k >= indent]:
            del folders[k]
        for name in (n.strip() for n in names.split(" / ")):
            if name.endswith("/"):
                folders[indent] = name.rstrip("/")
            elif name.endswith(".py"):
                named.add(f"{parent}/{name}" if parent else name)
    return named


def modules() -> set[str]:
    return {
        p.relative_to(REPO).as_posix()
        for pkg in PACKAGES
        for p in (REPO / pkg).rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }


def test_every_module_has_its_line_in_the_architecture_tree() -> None:
    missing = sorted(modules() - named_in_tree())
    assert not missing, f"modules missing from docs/architecture.md's tree: {missing}"


def test_the_architecture_tree_names_no_module_that_does_not_exist() -> None:
    named = {n for n in named_in_tree() if n.startswith(PACKAGES)}
    gone = sorted(named - modules())
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
