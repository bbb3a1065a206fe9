"""Flask application factory: config, extensions, blueprints, CLI (Flask tutorial style)."""

from __future__ import annotations

import dataclasses
from typing import Any

from apiflask import APIFlask

from huimin.platform.logs import configure_logging
from huimin.platform.settings import load_settings


def create_app(overrides: dict[str, Any] | None = None) -> APIFlask:
    settings = load_settings()
    if overrides:
        settings = dataclasses.replace(settings, **overrides)
    configure_logging()

    app = APIFlask(
        __name__,
        title="惠民助手 API",
        version="v1",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    from webapp import proxies

    proxies.install(app, settings.trusted_proxy_count, settings.trusted_proxies)

    from webapp import extensions

    extensions.init_app(app, settings)  # builds the runtime: production checks stop here

    from handlers import bp as wechat_bp
    from webapp.cli import register_cli
    from webapp.health import bp as health_bp
    from webapp.metrics import bp as metrics_bp
    from webapp.ops import bp as ops_console_bp
    from webapp.pages import bp as pages_bp
    from webapp.simulator import bp as simulator_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(wechat_bp)
    app.register_blueprint(ops_console_bp)  # /ops/: console and Rasa's model server
    app.register_blueprint(pages_bp)  # /my/ (citizens in WeChat) and /grid/ (grid workers)
    import miniapp_api

    miniapp_api.register(app)
    if settings.simulator_enabled:
        app.register_blueprint(simulator_bp)
    register_cli(app)
    return app

