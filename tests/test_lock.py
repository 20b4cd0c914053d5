"""The locks in requirements/: what make install and a deploy install, the
versions the tests run with, within pyproject.toml's ranges."""

from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hkcnews.serve import DEPLOY_LOCK

from .helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli (in the lock)
    import tomli as tomllib

TEST_LOCK = ROOT / "requirements" / "datasette-0.65-test.txt"


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


@pytest.mark.parametrize("lock, extra", [(DEPLOY_LOCK, None), (TEST_LOCK, None), (TEST_LOCK, "test")])
def test_lock_pins_a_version_in_every_range_of_pyproject(lock, extra):
    pinned = pins(lock)
    for requirement in declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock.name} has no {name}: run make lock"
        assert pinned[name] in requirement.specifier, (
            f"{lock.name}: {name}=={pinned[name]}, pyproject says {requirement}"
        )


def test_deploy_lock_has_the_versions_the_tests_run_with():
    deploy, test = pins(DEPLOY_LOCK), pins(TEST_LOCK)
    assert {name: test.get(name) for name in deploy} == deploy


def test_installed_packages_are_the_locked_versions():
    assert {name: version(name) for name in pins(TEST_LOCK)} == pins(TEST_LOCK)
