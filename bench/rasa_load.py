"""How long Rasa takes to load the trained model, Rasa's way and huimin.ops.rasa_server's way
(weights restored as the prediction step creates them, no one-example training step), and
whether both give the same predictions. Runs in the Rasa environment:

    .venv-rasa/bin/python bench/rasa_load.py [--way rasa|huimin|both] [--model models/x.tar.gz]

With --way both, each way loads in a process of its own (one after the other), and the intent
ranking, entities and next-action probabilities for every example message must be equal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEXTS = (
    "失业金怎么领", "灵活就业社保怎么交", "退休金什么时候发", "医保卡丢了怎么办",
    "养老保险交满多少年", "高校毕业生有什么补贴", "工伤怎么认定", "你好", "谢谢", "我要转人工",
    "社保卡怎么办理", "生育津贴怎么申请", "我今年60岁了能领养老金吗", "附近的社保服务大厅在哪",
    "就业码怎么用", "稳岗补贴", "住房公积金怎么提取", "我想投诉", "再见", "哈哈哈",
)


def load(way: str, model: str) -> dict:
    """Load the agent one way; return the timings and the predictions for TEXTS."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.core.agent import Agent
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.tensorflow.models import RasaModel

    if way == "huimin":
        from huimin.ops.rasa_server import load_model_for_prediction

        RasaModel.load = classmethod(load_model_for_prediction)
    started, cpu = time.monotonic(), time.process_time()
    agent = Agent.load(model)
    timing = {"wall_s": round(time.monotonic() - started, 1),
              "cpu_s": round(time.process_time() - cpu, 1)}
    print(f"{way} loaded: {timing}", flush=True)

    async def predict() -> list:
        out = []
        for i, text in enumerate(TEXTS):
            parsed = await agent.parse_message(text)
            tracker = DialogueStateTracker.from_events(
                f"bench-{i}", [ActionExecuted("action_listen"), UserUttered(text, parsed)])
            probs = agent.processor._predict_next_with_tracker(tracker).probabilities
            out.append({
                "text": text,
                "ranking": [(r["name"], round(r["confidence"], 5))
                            for r in parsed.get("intent_ranking", [])],
                "entities": [(e["entity"], e["value"]) for e in parsed.get("entities", [])],
                "next_action": [round(p, 5) for p in probs],
            })
        return out

    return {"timing": timing, "predictions": asyncio.run(predict())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--way", choices=("rasa", "huimin", "both"), default="both")
    parser.add_argument("--model", default="")
    parser.add_argument("--out", default="", help="(internal) write one way's result here")
    args = parser.parse_args()
    model = args.model or str(sorted((ROOT / "models").glob("*.tar.gz"))[-1])
    if args.way != "both":
        result = load(args.way, model)
        result["timing"]["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False))
        return 0
    results = {}
    for way in ("rasa", "huimin"):
        out = ROOT / "build" / f"rasa-load-{way}.json"
        subprocess.run([sys.executable, __file__, "--way", way, "--model", model,
                        "--out", str(out)], check=True, cwd=ROOT)
        results[way] = json.loads(out.read_text())
        print(f"{way:7s} load: {results[way]['timing']}  load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    same = results["rasa"]["predictions"] == results["huimin"]["predictions"]
    for a, b in zip(results["rasa"]["predictions"], results["huimin"]["predictions"],
                    strict=True):
        if a != b:
            print(f"DIFFERENT for {a['text']}: {a} != {b}")
    now = datetime.now(timezone.utc)  # noqa: UP017 - the Rasa environment is Python 3.10
    print(f"\nbench/rasa_load.py, {now:%Y-%m-%d %H:%M} UTC, {platform.node()} "
          f"({os.cpu_count()} cores), model {Path(model).name}: predictions for "
          f"{len(TEXTS)} messages {'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
