"""The wheel holds every package and the files they read: ``[tool.setuptools] packages`` in
pyproject.toml is an explicit list, so a package folder missing from it would silently be
left out of the install."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
FOLDERS = {package: ROOT / folder for package, folder in SETUPTOOLS["package-dir"].items()}


def package_folders() -> dict[str, Path]:
    """Every folder with an ``__init__.py`` under the mapped top-level folders, by package."""
    found = {}
    for package, top in FOLDERS.items():
        for init in top.rglob("__init__.py"):
            if "node_modules" in init.parts:
                continue
            relative = init.parent.relative_to(top).parts
            found[".".join([package, *relative])] = init.parent
    return found


def test_every_package_folder_is_listed():
    assert sorted(package_folders()) == sorted(SETUPTOOLS["packages"])


def test_every_folder_of_python_modules_is_a_package():
    loose = sorted(
        str(path.parent.relative_to(ROOT))
        for top in FOLDERS.values()
        for path in top.rglob("*.py")
        if "node_modules" not in path.parts and not (path.parent / "__init__.py").exists()
    )
    assert loose == []


def test_package_data_patterns_find_their_files():
    folders = package_folders()
    empty = [
        f"{package}: {pattern}"
        for package, patterns in SETUPTOOLS["package-data"].items()
        for pattern in patterns
        if not any(path.is_file() for path in folders[package].glob(pattern))
    ]
    assert empty == []
