"""Reading the small data files ops staff edit beside the policies (`policies/_*.yml`): one
YAML document checked against a pydantic model, every problem reported with the file and
field, so a mistyped file stops the start-up with a message that says where to look."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def load_checked(path: Path, model: type[M], what: str) -> M:
    """`path` parsed as `model`; raises ValueError naming the file (and each wrong field)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path.name}: cannot read the {what}: {exc}") from exc
    except ValidationError as exc:
        raise ValueError("\n".join(
            f"{path.name}: field '{'.'.join(map(str, err['loc']))}': {err['msg']}"
            for err in exc.errors()
        )) from exc
