"""What `pip install .` puts in the package (the README's deployment, not `-e`): every module
and every file the code reads. `.ci/check-wheel` installs the real wheel and serves it; this
catches the same losses in a second, at each run of the suite."""

import configparser
import fnmatch
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tracked(folder):
    listed = subprocess.run(
        ["git", "ls-files", "-z", folder], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout
    return [Path(name) for name in listed.split("\0") if name]


@pytest.fixture(scope="module")
def package_data():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    return {
        package: [p.strip() for p in patterns.split(",")]
        for package, patterns in setup["options.package_data"].items()
    }


@pytest.mark.parametrize("top", ["app", "plugins"])
def test_every_folder_of_modules_is_a_package(top):
    """setup.cfg finds packages: a folder of modules without __init__.py is left out."""
    folders = {path.parent for path in tracked(top) if path.suffix == ".py"}
    lost = sorted(str(f) for f in folders if not (ROOT / f / "__init__.py").is_file())
    assert lost == []


@pytest.mark.parametrize("top", ["app", "plugins"])
def test_every_data_file_is_package_data(top, package_data):
    """Templates, static files, the terms of use, the shipped forms and pathways…"""
    patterns = package_data[top]
    files = [
        path.relative_to(top)
        for path in tracked(top)
        if path.suffix != ".py" and not (ROOT / path).is_symlink()
    ]
    files += [  # the shipped forms and pathways, through their links in app/shipped
        Path("shipped", path.parent.name, path.name)
        for path in tracked("forms") + tracked("workflows")
        if top == "app"
    ]
    lost = [
        str(path)
        for path in files
        if not any(fnmatch.fnmatch(str(path), p.replace("**/", "*")) for p in patterns)
    ]
    assert lost == []
