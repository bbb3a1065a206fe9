"""Training runs: start one, follow its progress and log."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Integer, List, String
from apiflask.validators import Range
from sqlalchemy import select

from huimin.ops import training
from huimin.privacy import audit
from jobs.training import enqueue_training
from miniapp_api.auth import require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.ops.base import OPS_ROLES, PageIn, acting_staff, bp, ops_settings
from miniapp_api.pagination import page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class RunOut(Schema):
    id = Integer(required=True)
    status = String(required=True)
    stage = String(required=True)
    stage_label = String(required=True)
    progress = Integer(required=True)
    started_by = String(required=True)
    started_by_name = String(allow_none=True)
    created_at = UtcDateTime(required=True)
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    model_id = Integer(allow_none=True)
    data_fingerprint = String(allow_none=True)
    annotation_count = Integer(required=True)
    error = String(allow_none=True)


class RunLogQuery(Schema):
    since = Integer(load_default=0, validate=Range(min=0), metadata={
        "description": "从第几行日志开始（上次返回的 next_line）"})


class RunDetailOut(RunOut):
    lines = List(String(), required=True)
    next_line = Integer(required=True)


def run_row(run: training.TrainingRun) -> dict[str, Any]:
    return {
        "id": run.id, "status": run.status, "stage": run.stage,
        "stage_label": training.STAGES.get(run.stage, run.stage), "progress": run.progress,
        "started_by": run.started_by, "started_by_name": run.started_by_name,
        "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "model_id": run.model_id,
        "data_fingerprint": run.data_fingerprint, "annotation_count": run.annotation_count,
        "error": run.error,
    }




@bp.post("/training")
@require_roles(*OPS_ROLES)
@bp.output(RunOut, status_code=202)
@bp.doc(summary="开始训练", description="导出仓库的 nlu_data 和已采纳的标注，检查、训练、在测试集上"
        "评估并登记模型。同一时间只能有一个训练。", responses={409: "已有训练在进行中"})
def start_training() -> dict:
    actor, name = acting_staff()
    svc = services()
    with svc.db.session() as s:
        try:
            run = training.start_run(s, actor, name)
        except training.TrainingBusy as exc:
            raise ApiError(409, "training_busy", f"训练 #{exc.run.id} 正在进行，请等它结束。") \
                from None
        audit.record(s, actor, "ops.training.start", f"training_run:{run.id}", audit.OK,
                     client_ip())
        run_id = run.id
    job_id = enqueue_training(svc.redis, run_id, ops_settings().training_timeout_seconds)
    with svc.db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        run.job_id = job_id
        return run_row(run)


@bp.get("/training")
@require_roles(*OPS_ROLES)
@bp.input(PageIn, location="query", arg_name="query")
@bp.output(page_schema(RunOut))
@bp.doc(summary="训练记录")
def training_runs(query: dict) -> dict:
    with services().db.session() as s:
        training.current_run(s)  # closes a run whose worker died
        return paginate(s, select(training.TrainingRun).order_by(training.TrainingRun.id.desc()),
                        query, run_row)


@bp.get("/training/<int:run_id>")
@require_roles(*OPS_ROLES)
@bp.input(RunLogQuery, location="query", arg_name="query")
@bp.output(RunDetailOut)
@bp.doc(summary="训练进度和日志", description="用 since=上次的 next_line 只取新增的日志行。")
def training_run(run_id: int, query: dict) -> dict:
    with services().db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        if run is None:
            raise ApiError(404, "not_found", "找不到该训练")
        lines, next_line = training.log_since(run, query["since"])
        return {**run_row(run), "lines": lines, "next_line": next_line}
