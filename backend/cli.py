"""Flask CLI: ``db`` (Alembic migrations), ``create-user`` and ``demo-data``."""

from __future__ import annotations

import json
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from backend.audit.cli import audit_group
from backend.config import PROJECT_ROOT
from backend.db import db
from backend.errors import DomainError
from backend.inspection.cli import inspection_group


def alembic_config() -> Config:
    return Config(str(Path(PROJECT_ROOT) / "alembic.ini"))


def upgrade_database(connection: sa.Connection | None = None, revision: str = "head") -> None:
    config = alembic_config()
    if connection is not None:
        config.attributes["connection"] = connection
    command.upgrade(config, revision)


db_group = AppGroup(
    "db", help="Database migrations (Alembic); the schema is created only by these."
)


def _with_app_database(fn_name: str, *args: object, **kwargs: object) -> None:
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, fn_name)(config, *args, **kwargs)


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    _with_app_database("upgrade", revision)


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION."""
    _with_app_database("downgrade", revision)


@db_group.command("current")
def db_current() -> None:
    _with_app_database("current")


@db_group.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    _with_app_database("check")


@click.command("create-region")
@with_appcontext
@click.option("--code", required=True, help="Administrative division code, e.g. 640422")
@click.option("--name", required=True)
@click.option(
    "--level", required=True, type=click.Choice(["province", "city", "county", "township"])
)
@click.option("--parent", "parent_code", help="Code of the parent region (none: top level)")
def create_region_command(code: str, name: str, level: str, parent_code: str | None) -> None:
    """Create a region; the top of the tree is only made here (the API builds below it)."""
    from backend.org.models import Region
    from backend.org.services import create_region

    try:
        with db.unit_of_work() as session:
            parent_id = None
            if parent_code is not None:
                parent_id = session.scalar(sa.select(Region.id).where(Region.code == parent_code))
                if parent_id is None:
                    raise click.BadParameter(f"no region with code {parent_code!r}")
            region = create_region(session, code=code, name=name, level=level, parent_id=parent_id)
            click.echo(f"created {region.level} {region.name} ({region.path})")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


@click.command("create-user")
@with_appcontext
@click.option(
    "--role",
    required=True,
    type=click.Choice(["teacher", "school_admin", "inspector", "bureau_admin"]),
)
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--school", "school_code", help="School code (school_admin)")
@click.option("--region", "region_code", help="Region code (inspector, bureau_admin)")
@click.option("--teacher", "staff_no", help="Teacher staff number (teacher)")
def create_user_command(
    role: str,
    username: str,
    password: str,
    school_code: str | None,
    region_code: str | None,
    staff_no: str | None,
) -> None:
    """Create a login; its scope anchor is named by code."""
    from backend.auth.services import NewUser, create_user
    from backend.exchange.models import Teacher
    from backend.extensions import settings_of
    from backend.org.models import Region, School

    try:
        with db.unit_of_work() as session:

            def lookup(
                model: type, column: sa.ColumnElement[str], value: str | None, what: str
            ) -> object:
                if value is None:
                    return None
                found = session.scalar(sa.select(model.id).where(column == value))  # type: ignore[attr-defined]
                if found is None:
                    raise click.BadParameter(f"no {what} with code {value!r}")
                return found

            new = NewUser(
                username=username,
                password=password,
                role=role,
                teacher_id=lookup(Teacher, Teacher.staff_no, staff_no, "teacher"),  # type: ignore[arg-type]
                school_id=lookup(School, School.code, school_code, "school"),  # type: ignore[arg-type]
                region_id=lookup(Region, Region.code, region_code, "region"),  # type: ignore[arg-type]
            )
            user = create_user(session, settings_of(current_app), new)
            click.echo(f"created {user.role} {user.username} ({user.id})")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


@click.command("demo-data")
@with_appcontext
@click.option(
    "--password", default="demo-pass-2026", show_default=True, help="Password of every demo login"
)
@click.option("--json", "as_json", is_flag=True, help="Print the logins as JSON")
def demo_data_command(password: str, as_json: bool) -> None:
    """Load the demo county (Xiji and Lianyun, from the seed documents). Idempotent."""
    from backend.demo.loader import load_demo

    with db.unit_of_work() as session:
        logins = load_demo(session, current_app, password)
    if as_json:
        click.echo(json.dumps(logins, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'role':<13} {'username':<24} {'password':<16} scope")
    for login in logins:
        click.echo(
            f"{login['role']:<13} {login['username']:<24} {login['password']:<16} {login['scope']}"
        )


jobs_group = AppGroup("jobs", help="Background jobs: relay the outbox, queue housekeeping.")


@jobs_group.command("relay")
def jobs_relay() -> None:
    """Send queued jobs whose relay failed (Redis was down); run it from cron."""
    from backend.jobs import relay

    click.echo(f"relayed {relay(current_app._get_current_object())} job(s)")  # type: ignore[attr-defined]


@jobs_group.command("housekeeping")
def jobs_housekeeping() -> None:
    """Queue the periodic work: expired uploads, photos no record claimed, the close of
    the days now over, and the monthly tallies due (run it nightly, after midnight China
    time)."""
    from backend.attendance.jobs import close_days
    from backend.jobs import enqueue_after_commit
    from backend.reports.jobs import reconcile
    from backend.reports.webhooks import redeliver_pending
    from media.jobs import expire_uploads, remove_unclaimed_photos

    with db.unit_of_work() as session:
        enqueue_after_commit(session, expire_uploads)
        enqueue_after_commit(session, remove_unclaimed_photos)
        enqueue_after_commit(session, close_days)
        # Months due and not yet reported (the month-end tally, and any a downtime missed).
        enqueue_after_commit(session, reconcile)
        # Webhook deliveries whose receiver failed: tried again, with a cap on attempts.
        enqueue_after_commit(session, redeliver_pending)
    click.echo(
        "queued: expire_uploads, remove_unclaimed_photos, close_days, reconcile, redeliver_pending"
    )


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(jobs_group)
    app.cli.add_command(create_region_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(inspection_group)
    app.cli.add_command(audit_group)
