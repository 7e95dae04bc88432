"""The forms and pathways shipped with Parcours: forms/*.json and workflows/*.bpmn of the
source tree, linked here so that they travel inside the package (setup.cfg's package data) and
are found the same way in a checkout, an editable install and an installed wheel."""

from importlib import resources
from pathlib import Path


class ShippedFilesMissing(RuntimeError):
    """The package lacks its shipped forms or pathways: a broken build, never a normal state."""


def forms_folder():
    """The folder of the shipped forms (*.json)."""
    return _folder("forms", "*.json")


def workflows_folder():
    """The folder of the shipped pathways (*.bpmn), the only files trusted with scripts."""
    return _folder("workflows", "*.bpmn")


def _folder(name, pattern):
    # An installed package is a folder on disk (setup.cfg: not zip-safe), so this is a Path.
    folder = Path(str(resources.files(__name__) / name)).resolve()
    if not folder.is_dir() or not any(folder.glob(pattern)):
        raise ShippedFilesMissing(
            f"No {pattern} file in {folder}: this installation of Parcours lacks its shipped "
            f"{name} (reinstall it from a complete source tree or wheel)."
        )
    return folder
