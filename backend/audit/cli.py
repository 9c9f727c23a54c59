"""``flask audit …``: verify the chain, and print a day's head hash for anchoring."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup

from backend.audit.verify import Anchor, day_head, verify
from backend.clock import today
from backend.db import db

audit_group = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_group.command("verify")
@click.option(
    "--anchors",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of head hashes kept outside the database (JSON lines from `audit head`).",
)
def verify_command(anchors: Path | None) -> None:
    """Recompute the whole hash chain. Prints the outcome as JSON; exits 0 if intact,
    else 1, naming the first broken link."""
    kept = _read_anchors(anchors) if anchors else []
    with db.unit_of_work() as session:
        outcome = verify(session, kept)
    click.echo(json.dumps(outcome.as_dict(), ensure_ascii=False))
    raise SystemExit(0 if outcome.intact else 1)


@audit_group.command("head")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day (China time) whose closing head to print; default yesterday.",
)
def head_command(day: datetime | None) -> None:
    """Print the chain's head at the end of a day as one JSON line: run it daily (cron)
    and keep the line outside the database, e.g. sent to the bureau or published."""
    which: date = day.date() if day is not None else today() - timedelta(days=1)
    with db.unit_of_work() as session:
        click.echo(json.dumps(day_head(session, which), ensure_ascii=False))


def _read_anchors(path: Path) -> list[Anchor]:
    anchors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            anchors.append(Anchor(seq=int(item["seq"]), hash=str(item["hash"])))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise click.ClickException(f"{path}:{number}: not a head line ({exc})") from exc
    return anchors
