"""Generate the catalogue-driven NLU artefacts (Rasa synonyms + lookup, Jieba user dictionary).

    python scripts/build_nlu.py --out build/training [--policies policies]

Writes only <out>/catalogue_nlu.yml and <out>/jieba/userdict.txt; train Rasa with
`--data nlu_data <out>` and point JiebaTokenizer's dictionary_path at <out>/jieba.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from huimin.catalogue import CatalogueError, load_catalogue, write_training  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate NLU files from the policy catalogue.")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "training")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies")
    args = parser.parse_args(argv)
    try:
        catalogue = load_catalogue(args.policies)
    except CatalogueError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    for path in write_training(catalogue, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
