"""``flask inspection …``: checking a published draw record from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from backend.inspection import draw

inspection_group = AppGroup("inspection", help="Random spot checks (双随机、一公开).")


@inspection_group.command("verify-draw")
@click.argument("record_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_draw(record_file: Path) -> None:
    """Verify a draw record saved from /public/inspection/plans/{id}/draw-record: the seed
    matches its commitment, the inputs their digest, and re-running the draw gives the
    published spot checks. Prints the outcome as JSON; exits 0 if verified, else 1."""
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{record_file} is not a JSON draw record: {exc}") from exc
    outcome = draw.verify(record)
    click.echo(json.dumps(outcome, ensure_ascii=False, indent=2))
    raise SystemExit(0 if outcome.get("verified") else 1)
