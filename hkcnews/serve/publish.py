"""Publishing the archive as stateless replicas (``datasette publish
cloudrun``) from a checkout: the deploy lock beside the wheel."""

from importlib.metadata import version
from pathlib import Path

from hkcnews import compat
from hkcnews.serve import SETTINGS

# The locks live in the repository, beside the package: publishing is done
# from a checkout.
REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"


def wheel_name():
    """This package's wheel as ``pip wheel`` names it, for its version."""
    return f"hkcnews_archive-{version('hkcnews-archive')}-py3-none-any.whl"


def deploy_lock(line=compat.LINE):
    """What a deploy installs: the lock of a Datasette line (by default the
    one installed here, which the tests ran on)."""
    return REQUIREMENTS / f"datasette-{line}.txt"


def publish_args(db="news.db", wheel=None, service="hkcnews-archive", line=compat.LINE):
    """`datasette publish cloudrun` arguments for stateless replicas: the
    immutable database; the files ``python -m hkcnews.config dist`` wrote
    (metadata, and for Datasette 1.0 its configuration, which publish has
    no option for: it is read from the image's copy of dist/); this bundle
    as a wheel with the deploy lock beside it (Datasette's Dockerfile
    copies --static folders into the image before its pip install, so both
    install from /app/dist, the lock as pip's constraints: the versions the
    tests ran with) and the settings above. ``datasette package`` takes the
    same arguments but the Cloud Run ones."""
    wheel = Path(wheel or f"dist/{wheel_name()}")
    options = [f"--setting {name} {value}" for name, value in SETTINGS.items()]
    if line == "1.0":
        options.append(f"-c {wheel.parent}/datasette.yml")
    return [
        "datasette",
        "publish",
        "cloudrun",
        str(db),
        "-m",
        f"{wheel.parent}/metadata.yml",
        "--static",
        f"dist:{wheel.parent}",
        "--install",
        f"-c /app/dist/{deploy_lock(line).name}",
        "--install",
        f"/app/dist/{wheel.name}",
        "--extra-options",
        " ".join(options),
        "--service",
        service,
        "--memory",
        "2Gi",
        "--cpu",
        "2",
        "--min-instances",
        "1",
        "--max-instances",
        "10",
    ]
