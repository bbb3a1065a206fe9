"""Print the NLU's intent ranking for each text on stdin, one JSON line per text.

Runs in the Rasa environment (`.venv-rasa/bin/python scripts/rasa_parse.py MODEL`); used by
scripts/nlu_eval.py to tune the FallbackClassifier on the raw confidences it would act on.
"""

from __future__ import annotations

import asyncio
import json
import sys

from rasa.core.agent import Agent


async def main(model: str) -> None:
    agent = Agent.load(model)
    for line in sys.stdin:
        text = line.rstrip("\n")
        result = await agent.parse_message(text)
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        print(json.dumps({"text": text, "ranking": ranking[:3]}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
