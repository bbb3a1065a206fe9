"""The ops console (a single page at /ops/, talking to /api/v1/ops/...) and the model server
the Rasa replicas pull the live model from (/ops/model-server/model)."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import render_template

from webapp.ops import model_server

bp = APIBlueprint(
    "ops_console", __name__, url_prefix="/ops", enable_openapi=False,
    template_folder="templates", static_folder="static", static_url_path="/static",
)
bp.register_blueprint(model_server.bp)


@bp.get("/")
def console():
    """The page itself is public; everything it shows comes from the API after sign-in."""
    return render_template("ops/console.html")
