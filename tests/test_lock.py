"""The locks in requirements/: what make install and a deploy install, the
versions the tests run with, within pyproject.toml's ranges."""

import ast
import sys
from importlib.metadata import packages_distributions, version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hkcnews.compat import LINE

from .helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli (in the lock)
    import tomli as tomllib

LOCKS = ROOT / "requirements"
# Each line's deploy lock and test lock.
LINES = {
    line: {"deploy": LOCKS / f"datasette-{line}.txt", "test": LOCKS / f"datasette-{line}-test.txt"}
    for line in ("0.65", "1.0")
}


def pins(lock):
    """{name: version} of a lock's lines that apply to this Python."""
    pinned = {}
    for line in lock.read_text().splitlines():
        if not line or line[0] in "# ":
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{lock.name}: {line} is not pinned"
            pinned[canonicalize_name(requirement.name)] = spec.version
    return pinned


def declared(extra=None):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(r) for r in listed]


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("which, extra", [("deploy", None), ("test", None), ("test", "test")])
def test_lock_pins_a_version_in_every_range_of_pyproject(line, which, extra):
    lock = LINES[line][which]
    pinned = pins(lock)
    for requirement in declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock.name} has no {name}: run make lock"
        # The 1.0 line's alphas are within the ranges, as pip sees them when asked for one.
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock.name}: {name}=={pinned[name]}, pyproject says {requirement}"
        )


@pytest.mark.parametrize("line, datasette", [("0.65", "0.65."), ("1.0", "1.")])
def test_each_line_locks_its_datasette(line, datasette):
    assert all(pins(lock)["datasette"].startswith(datasette) for lock in LINES[line].values())


@pytest.mark.parametrize("line", LINES)
def test_deploy_lock_has_the_versions_the_tests_run_with(line):
    deploy, test = pins(LINES[line]["deploy"]), pins(LINES[line]["test"])
    assert {name: test.get(name) for name in deploy} == deploy


def test_installed_packages_are_the_locked_versions():
    test_lock = LINES[LINE]["test"]
    assert {name: version(name) for name in pins(test_lock)} == pins(test_lock)


def imported_modules(folder):
    """The top-level names of every module the .py files under ``folder`` import."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_package_the_code_imports_is_declared():
    third_party = imported_modules(ROOT / "hkcnews") - set(sys.stdlib_module_names) - {"hkcnews"}
    distributions = packages_distributions()
    needed = {canonicalize_name(d) for name in third_party for d in distributions.get(name, [name])}
    assert needed - {canonicalize_name(r.name) for r in declared()} == set()
