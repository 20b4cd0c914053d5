"""The layout is the map: the build and the site (with the public
instance's server) meet only in the shared modules at the top of the
package, which import neither side."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hkcnews"
SIDES = ("build", "site", "serve")
MAX_SHARED = 8


def imports(path):
    """The hkcnews modules a file imports, by dotted name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hkcnews"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("hkcnews")}
    return found


def side(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in SIDES else None


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_side_and_the_shared_modules(path):
    own = path.relative_to(PACKAGE).parts[0] if path.parent != PACKAGE else None
    crossing = sorted(m for m in imports(path) if side(m) not in (None, own))
    assert crossing == []


def test_the_shared_modules_at_the_top_are_few():
    shared = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(shared) <= MAX_SHARED, shared
