"""The daily schedule and the new-drop sensor, evaluated on real directories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from conftest import write_minimal_drop

from dagster_project.definitions import defs
from dagster_project.defs.schedules import new_source_drop

pytestmark = pytest.mark.unit


def write_drop(folder: Path, exported_at: str) -> Path:
    return write_minimal_drop(folder, exported_at=exported_at)


def tick(context: dg.SensorEvaluationContext) -> Iterator[object]:
    """What the sensor yields on one tick."""
    result = new_source_drop(context)
    assert isinstance(result, Iterator)  # the sensor's function is a generator
    return result


def evaluate(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(cursor=cursor)
    result = list(tick(context))
    return [r for r in result if isinstance(r, dg.RunRequest)], context.cursor


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test on a home of its own: never the repository's data/ (the sensor compares a
    drop's company with the home's last drop)."""
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "home"))


def test_each_new_drop_starts_exactly_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("REVOPS_INBOX", str(inbox))
    assert evaluate(None)[0] == []

    first = write_drop(inbox / "2026-06-30", "2026-06-30T23:59:59Z")
    requests, cursor = evaluate(None)
    assert [r.run_config["resources"]["settings"]["config"]["source_dir"] for r in requests] == [
        str(first.resolve())
    ]
    assert evaluate(cursor)[0] == []  # the same drop never starts a second run

    second = write_drop(inbox / "2026-07-01", "2026-07-01T23:59:59Z")
    requests, cursor2 = evaluate(cursor)
    assert [r.tags["revops/source_dir"] for r in requests] == [str(second.resolve())]
    assert len({r.run_key for r in requests}) == 1
    assert evaluate(cursor2)[0] == []

    # Re-exported in place (a new manifest) is a new drop.
    (first / "manifest.json").write_text(
        json.dumps({"exported_at": "2026-06-30T23:59:59Z", "v": 2})
    )
    assert len(evaluate(cursor2)[0]) == 1


def test_a_bad_drop_launches_nothing_and_the_tick_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("REVOPS_INBOX", str(inbox))
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "home"))
    bad = write_drop(inbox / "2026-06-30", "2026-06-30T23:59:59Z")
    (bad / "stripe" / "invoices.jsonl").unlink()
    context = dg.build_sensor_context(cursor=None)
    result = list(tick(context))
    assert len(result) == 1 and isinstance(result[0], dg.SkipReason)
    assert result[0].skip_message is not None
    assert "not run, the drop breaks its contract" in result[0].skip_message
    assert "stripe/invoices.jsonl is missing" in result[0].skip_message
    assert context.cursor is None  # looked at again next tick
    # Once the file arrives, the drop runs.
    write_minimal_drop(bad, exported_at="2026-06-30T23:59:59Z")
    assert len(evaluate(None)[0]) == 1


def test_the_schedule_skips_a_bad_drop_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.defs.schedules import daily_refresh

    monkeypatch.setenv("REVOPS_HOME", str(tmp_path))
    monkeypatch.delenv("REVOPS_SOURCE_DIR", raising=False)
    context = dg.build_schedule_context()
    skipped = daily_refresh(context)
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message is not None
    assert f"source drop directory {tmp_path / 'drop'} does not exist" in skipped.skip_message
    write_minimal_drop(tmp_path / "drop")
    assert isinstance(daily_refresh(context), dg.RunRequest)


def test_schedule_and_sensor_target_refresh() -> None:
    d = defs()
    schedule = d.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == "refresh" and schedule.cron_schedule == "0 6 * * *"
    assert d.resolve_sensor_def("new_source_drop").job_name == "refresh"
