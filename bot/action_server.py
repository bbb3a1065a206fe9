"""The Rasa action server, served in one process.

rasa_sdk's own entry point (`python -m rasa_sdk`) serves through Sanic's worker manager: the
manager spawns a worker process that imports the actions (so the whole domain package) a second
time and must report ready within Sanic's fixed 30 s. On a loaded 2-core machine, with every
host of the scale-out topology starting at once, that second import took longer: Sanic shut the
server down ("Not all workers acknowledged a successful startup") and the spawned worker of a
killed manager lived on as an orphan. The action server runs one worker anyway (its work waits
on the database and Redis), so it is served in this process: the actions are imported once, it
starts sooner, and there is one process to stop. Arguments and endpoints are rasa_sdk's own.
"""

from __future__ import annotations

import os
from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser
from rasa_sdk.executor import ActionExecutor

from bot.actions.context import one_request


class RequestExecutor(ActionExecutor):
    """rasa_sdk's executor, each action call being one request for the live stores' edit
    checks (bot.actions.context.one_request): checked once per message, not per use."""

    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with one_request():
            return await super().run(action_call, *args, **kwargs)


def main(argv: list[str] | None = None) -> None:
    """Parse rasa_sdk's command line, register the actions, serve until SIGTERM/SIGINT."""
    args = create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    executor = RequestExecutor()
    executor.register_package(args.actions_module or args.actions)
    app = create_app_for_serve(executor, cors_origins=args.cors, endpoints=args.endpoints)
    app.run(host=os.environ.get("SANIC_HOST", "127.0.0.1"), port=args.port,
            single_process=True, access_log=False)


if __name__ == "__main__":
    main()
