"""The Rasa server, with new models loaded beside the running one instead of in its way.

    .venv-rasa/bin/python -m huimin.ops.rasa_server run --enable-api ...   (the Procfile)

Runs in the Rasa environment and is Rasa's own ``rasa`` command with these changes:

- When the model server (webapp/ops/model_server.py) offers a new model, Rasa 3.6 builds it on
  the event loop, which stalls every conversation for as long as TensorFlow takes to load it
  (tens of seconds on two cores). Here it is built on a worker thread while the old model keeps
  answering, and then swapped in with plain assignments on the loop, so no request waits.
- Rasa checks every action-server response with ``jsonschema.validate``, which first checks
  the (constant) schema itself: a fifth of Rasa's time per message under load (py-spy, see
  README). Here the schema is checked once and the validator reused; responses are validated
  exactly as before.
- To load a trained DIET or TED model, Rasa first trains it on one example (``model.fit``) only
  to create its variables, which traces TensorFlow's whole training step (forward, gradients,
  optimizer): most of the minutes a restarted Rasa needs before it answers on a busy machine.
  Here the saved weights are read first and restored as the prediction step creates the
  variables (TensorFlow's restore-on-create), so only the prediction step is traced. Fine-tuning
  (``finetune_mode``) keeps Rasa's own way.
- Rasa turns each stored event back into its class with ``Event.resolve_by_type``, which walks
  every subclass of ``Event`` (and asks ``inspect.isabstract`` of each) for every event of the
  tracker, on every message: about a fifth of Rasa's CPU per message under the realistic mix,
  because the Redis tracker store reads and rebuilds the whole conversation each turn (py-spy,
  README). Here the walk is done once into a table; a name not in it goes to Rasa's own lookup,
  so unknown names, ``topic`` and defaults behave exactly as before.
- Rasa runs ``SANIC_WORKERS`` processes (the Procfile sets 2, one per core; the lock store is
  Redis, so one conversation is never handled by two at once). Each worker loads the model and
  polls the model server on its own, so each swaps on its own: every response names the worker
  process that produced it (``X-Rasa-Worker``), which is how a test or an operator sees that all
  of them serve the new model. A worker also waits for its first model before it takes
  connections (Rasa would answer 409 from it, beside a worker that answers, whenever the model
  server was not up yet at its first pull): it pulls again every second until it has one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import aiohttp
import rasa.core.agent as rasa_agent
import rasa.core.run
import rasa.shared.utils.common
import tensorflow as tf
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.__main__ import main as rasa_main
from rasa.core.actions.action import RemoteAction
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.nlu.utils import is_url
from rasa.shared.core.events import Event
from rasa.utils.common import TempDirectoryPath, get_temp_dir_name
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.models import RasaModel
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)
WORKER_HEADER = "X-Rasa-Worker"
FIRST_PULL_RETRY_SECONDS = 1.0


def _build_processor(agent: Any, model_path: str) -> MessageProcessor:
    return MessageProcessor(
        model_path=model_path, tracker_store=agent.tracker_store, lock_store=agent.lock_store,
        action_endpoint=agent.action_endpoint, generator=agent.nlg,
        http_interpreter=agent.http_interpreter,
    )


def _swap(agent: Any, processor: MessageProcessor, fingerprint: str) -> None:
    """What ``Agent.load_model`` does after loading; no await in between, so atomic for the
    loop. Requests already inside the old processor finish with it."""
    agent.processor = processor
    agent.domain = processor.domain
    agent._set_fingerprint(fingerprint)
    agent.tracker_store.domain = agent.domain
    if isinstance(agent.nlg, TemplatedNaturalLanguageGenerator):
        agent.nlg.responses = agent.domain.responses if agent.domain else {}


async def update_model_from_server(model_server: Any, agent: Any) -> None:
    """Replacement for ``rasa.core.agent._update_model_from_server``."""
    if not is_url(model_server.url):
        raise aiohttp.InvalidURL(model_server.url)
    with TempDirectoryPath(get_temp_dir_name()) as directory:
        try:
            fingerprint = await rasa_agent._pull_model_and_fingerprint(
                model_server, agent.fingerprint, directory
            )
            if not fingerprint:
                return
            files = sorted(Path(directory).glob("*.tar.gz"))
            log.info("Loading new model %s in the background...", files[0].name if files else "")
            loop = asyncio.get_running_loop()
            processor = await loop.run_in_executor(None, _build_processor, agent, directory)
            _swap(agent, processor, fingerprint)
            log.info("Switched to model %s (%s) in worker %d.", processor.model_filename,
                     processor.model_metadata.model_id, os.getpid())
        except Exception:  # noqa: BLE001 - as Rasa: keep serving the previous model
            log.exception("Failed to update model. The previous model will stay loaded instead.")


async def load_from_server(agent: Any, model_server: Any) -> Any:
    """Replacement for ``rasa.core.agent.load_from_server``: the same first pull and
    schedule, except that the first pull is repeated until a model is loaded (this runs
    before the worker starts serving)."""
    await update_model_from_server(model_server, agent)
    while not agent.is_ready():
        await asyncio.sleep(FIRST_PULL_RETRY_SECONDS)
        await update_model_from_server(model_server, agent)
    wait_time_between_pulls = model_server.kwargs.get("wait_time_between_pulls", 100)
    if wait_time_between_pulls:
        await rasa_agent._schedule_model_pulling(model_server, int(wait_time_between_pulls),
                                                 agent)
    return agent


_rasa_model_load = RasaModel.load.__func__


def load_model_for_prediction(
    cls: type[RasaModel], model_file_name: str, model_data_example: Any,
    predict_data_example: Any = None, finetune_mode: bool = False, *args: Any, **kwargs: Any,
) -> RasaModel:
    """Replacement for ``RasaModel.load``: the same model, without the training step."""
    if finetune_mode or not predict_data_example:
        return _rasa_model_load(cls, model_file_name, model_data_example, predict_data_example,
                                finetune_mode, *args, **kwargs)
    model = cls(*args, **kwargs)
    config = kwargs.get("config", {})
    model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
                  run_eagerly=config.get(RUN_EAGERLY))
    # Restored as the variables appear; the optimizer's saved state is not needed to predict.
    model.load_weights(model_file_name).expect_partial()
    model.run_inference(predict_data_example)  # creates (and so restores) every variable
    return model


def _action_result_validator() -> Any:
    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


_ACTION_RESULT = _action_result_validator()


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Replacement for ``RemoteAction._validate_action_result``: same checks, same error."""
    error = best_match(_ACTION_RESULT.iter_errors(result))  # as jsonschema.validate picks it
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from "
        "the Action endpoint is valid."
    )
    raise error


_stock_resolve_by_type = Event.resolve_by_type
_event_types: dict[str, type[Event]] = {}


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Replacement for ``Event.resolve_by_type``: the same class for the same name (the first
    subclass in Rasa's own order), from a table built on the first call, when every event
    class is imported."""
    if not _event_types:
        for cls in rasa.shared.utils.common.all_subclasses(Event):
            _event_types.setdefault(cls.type_name, cls)
    found = _event_types.get(type_name)
    return found if found is not None else _stock_resolve_by_type(type_name, default)


_stock_configure_app = rasa.core.run.configure_app


async def _name_worker(request: Request, response: HTTPResponse) -> None:
    response.headers[WORKER_HEADER] = str(os.getpid())


def configure_app(*args: Any, **kwargs: Any) -> Sanic:
    """Replacement for ``rasa.core.run.configure_app``: Rasa's app, whose responses name the
    worker process that answered."""
    app = _stock_configure_app(*args, **kwargs)
    app.register_middleware(_name_worker, "response")
    return app


def main() -> None:
    rasa.core.run.configure_app = configure_app
    rasa_agent._update_model_from_server = update_model_from_server
    rasa_agent.load_from_server = load_from_server
    RemoteAction._validate_action_result = validate_action_result
    RasaModel.load = classmethod(load_model_for_prediction)
    Event.resolve_by_type = staticmethod(resolve_by_type)
    rasa_main()


if __name__ == "__main__":
    main()
