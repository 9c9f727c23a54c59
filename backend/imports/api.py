"""Bulk import endpoints: ``POST /api/v1/imports/<kind>`` with a bureau's .xlsx or .csv list.

One route per kind (schools, teachers, secondments), so each carries the write policy of
the records it creates and documents its own columns. All rows are stored or none.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from werkzeug.datastructures import FileStorage

from backend.auth.policy import Action, Resource, current_principal, requires
from backend.db import db
from backend.errors import error_body
from backend.extensions import Blueprint
from backend.imports.columns import COLUMNS, ImportKind
from backend.imports.schemas import (
    ImportFileArgs,
    ImportInvalidSchema,
    ImportQueryArgs,
    ImportReportSchema,
)
from backend.imports.services import ImportInvalid, ImportReport, import_rows
from backend.imports.tabular import read_table

blp = Blueprint(
    "imports",
    __name__,
    url_prefix="/api/v1/imports",
    description=(
        "Bulk import of the lists bureaus keep in Excel: schools, teachers, secondments."
        " Every row goes through the same rules as the single-record endpoints; if any row"
        " fails, nothing is stored and the report lists each failing row."
    ),
)

RESOURCES = {
    ImportKind.SCHOOLS: Resource.SCHOOL,
    ImportKind.TEACHERS: Resource.TEACHER,
    ImportKind.SECONDMENTS: Resource.SECONDMENT,
}


@blp.errorhandler(ImportInvalid)
def _import_invalid(error: ImportInvalid) -> tuple[Response, int]:
    # The one error shape, plus the report: the uploader needs every failing row at once.
    body = error_body(error.status, error.code, error.message)
    body["report"] = ImportReportSchema().dump(error.report)
    return jsonify(body), error.status


def _columns_doc(kind: ImportKind) -> str:
    lines = [
        f"- `{c.name}` ({' / '.join(c.headers)}){'' if c.required else ' — optional'}"
        for c in COLUMNS[kind]
    ]
    return (
        f"Create {kind} from an uploaded sheet: all rows or none. Headers may be English or"
        " Chinese, in any order and case; other records are named by their code (schools,"
        " regions) or staff number (teachers), within your scope. Labels such as 小学, 乡村,"
        " 支教, 教学 or 是 are read besides the English values; dates may be Excel date"
        " cells, 2026-09-01, 2026/9/1 or 2026年9月1日. Columns:\n\n" + "\n".join(lines)
    )


def _import(kind: ImportKind, upload: FileStorage, dry_run: bool) -> ImportReport:
    table = read_table(upload.filename or "", upload.read())
    report = import_rows(db.session, current_principal(), kind, table, dry_run=dry_run)
    if report.errors:
        raise ImportInvalid(report)
    return report


def _import_view(kind: ImportKind) -> type[MethodView]:
    class Import(MethodView):
        @requires(RESOURCES[kind], Action.WRITE)
        @blp.doc(summary=f"Import {kind} from .xlsx or .csv", description=_columns_doc(kind))
        @blp.arguments(ImportFileArgs, location="files")
        @blp.arguments(ImportQueryArgs, location="query")
        @blp.response(200, ImportReportSchema)
        @blp.alt_response(422, schema=ImportInvalidSchema, description="Rows or file invalid")
        # Referenced by name: the Api registers the one error schema as a response already.
        @blp.alt_response(415, response="DEFAULT_ERROR")
        def post(self, files: dict[str, Any], query: dict[str, Any]) -> ImportReport:
            return _import(kind, files["file"], query["dry_run"])

    Import.__name__ = Import.__qualname__ = f"{kind.title()}Import"
    return Import


for _kind in ImportKind:
    blp.route(f"/{_kind}", endpoint=f"{_kind}_import")(_import_view(_kind))
