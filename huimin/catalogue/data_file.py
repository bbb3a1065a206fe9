"""Reading the small data files ops staff edit beside the policies (`policies/_*.yml`): one
YAML document checked against a pydantic model, every problem reported with the file and
field, so a mistyped file stops the start-up with a message that says where to look."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import BaseModel, Field, StringConstraints, ValidationError

M = TypeVar("M", bound=BaseModel)

# The field types these files share: a word matched inside a question (no spaces; short, since
# a message "holds" it anywhere), a non-empty list of them, and a policy's catalogue key.
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12,
                                        pattern=r"^\S+$")]
Words = Annotated[list[Word], Field(min_length=1)]
PolicyKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


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
