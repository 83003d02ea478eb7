"""Reading the real sources' folders and JSON files, with errors that name the folder or file at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError


def require_dir(directory: Path, what: str) -> Path:
    """``directory``, or FileNotFoundError naming ``what`` it should hold."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{what} folder {directory} does not exist")
    return directory


def read_json(path: Path) -> Any:
    """The parsed file; ValueError naming the file when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path}: not JSON ({error})") from None
