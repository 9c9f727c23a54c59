"""Wire shapes of the import endpoints: the upload, the dry-run switch and the report."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import fields

from backend.extensions import ErrorSchema, Schema
from backend.imports.tabular import MAX_ROWS


class ImportFileArgs(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": (
                "An .xlsx workbook (first sheet read) or a .csv file (UTF-8 or GBK/GB18030;"
                " comma, tab or semicolon). The first row holds the headers, in English or"
                f" Chinese. At most {MAX_ROWS:,} data rows."
            )
        },
    )


class ImportQueryArgs(Schema):
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Check every row and report, but store nothing."},
    )


class RowErrorSchema(Schema):
    row = fields.Integer(
        required=True, metadata={"description": "Spreadsheet row; the header is row 1."}
    )
    field = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The column's field name; null when the whole row is wrong."},
    )
    message = fields.String(required=True)
    rule = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The policy rule the row breaks, e.g. 003 §四(三)."},
    )


class ImportReportSchema(Schema):
    kind = fields.String(required=True)
    dry_run = fields.Boolean(required=True)
    rows = fields.Integer(required=True, metadata={"description": "Data rows read."})
    created = fields.Integer(
        required=True, metadata={"description": "Records stored: all rows, or 0."}
    )
    errors = fields.List(fields.Nested(RowErrorSchema), required=True)


class ImportInvalidSchema(ErrorSchema):
    """422: ``import_invalid`` (some rows failed, so nothing was stored) with the report, or
    ``validation_error`` (the request itself, e.g. no file part) without one."""

    report = fields.Nested(
        ImportReportSchema, metadata={"description": "Present when code is import_invalid."}
    )
