"""Assets of the ``raw`` group: each system's objects landed and loaded into ``raw_<system>``.

One multi-asset per system (its objects load in one step, in dependency order). The work is
``connectors.load``; this module only wires it: which tables an asset materializes, and the
row, quarantine and cursor figures each one reports.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

import logging
from collections.abc import Iterator

import dagster as dg
import duckdb

from connectors.api.clock import SourceClock, stamp
from connectors.drop import inspect_drop
from connectors.errors import ConnectorError
from connectors.load.api_mode import load_api_system
from connectors.load.files_mode import load_system
from connectors.load.loader import BatchResult
from connectors.schemas import SPECS
from dagster_project.defs.resources import (
    MissingCredential,
    NetSuiteApi,
    RevopsSettings,
    SalesforceApi,
    StripeApi,
)

RAW_GROUP = "raw"
OWNERS = {"salesforce": "team:revops", "stripe": "team:engineering", "netsuite": "team:finance"}


def raw_table_keys(system: str) -> list[tuple[dg.AssetKey, str]]:
    """(asset key, object name) of every raw table the system's load writes."""
    out = []
    for spec in SPECS[system]:
        out.append((dg.AssetKey([f"raw_{system}", spec.table]), spec.name))
        out.extend(
            (dg.AssetKey([f"raw_{system}", child.table]), spec.name) for child in spec.children
        )
    out.append((dg.AssetKey([f"raw_{system}", "quarantine"]), ""))
    return out


def _extract_and_load(
    con: duckdb.DuckDBPyConnection,
    settings: RevopsSettings,
    system: str,
    api: StripeApi | SalesforceApi | NetSuiteApi,
    log: logging.Logger | dg.DagsterLogManager | None = None,
) -> list[BatchResult]:
    """Files mode reads the drop; api mode extracts incrementally through the vendor's API
    (as of the vendor's clock: its responses' ``Date`` header, else ours)."""
    try:
        if settings.source == "api":
            clock = SourceClock()
            results = load_api_system(con, settings.home_path, system, api.source(), clock=clock)
            if log is not None:
                whose = (
                    f"{system}'s clock (HTTP Date)"
                    if clock.from_source
                    else f"the local clock: no {system} response carried a Date header"
                )
                log.info("%s extracted as of %s, by %s", system, stamp(clock.instant()), whose)
            return results
        inventory = inspect_drop(settings.source_path)
        exported_at = inventory.exported_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return load_system(con, settings.home_path, settings.source_path, system, exported_at)
    except (ConnectorError, MissingCredential) as err:
        raise dg.Failure(description=str(err), allow_retries=False) from None


def _describe(system: str, key: dg.AssetKey) -> str:
    if key.path[-1] == "quarantine":
        return f"{system} records that failed validation, with batch, file, line and the rule"
    return f"{system} records typed and validated into {'.'.join(key.path)} (latest version wins)"


def build_raw_assets(system: str) -> dg.AssetsDefinition:
    keys = raw_table_keys(system)
    specs = [
        dg.AssetSpec(
            key,
            deps=[dg.AssetKey("source_drop")],
            group_name=RAW_GROUP,
            owners=[OWNERS[system]],
            description=_describe(system, key),
            kinds={"duckdb"},
        )
        for key, _ in keys
    ]

    @dg.multi_asset(name=f"raw_{system}", specs=specs, pool="duckdb_warehouse")
    def _load(
        context: dg.AssetExecutionContext,
        settings: RevopsSettings,
        stripe_api: StripeApi,
        salesforce_api: SalesforceApi,
        netsuite_api: NetSuiteApi,
    ) -> Iterator[dg.MaterializeResult]:
        with settings.warehouse() as con:
            apis: dict[str, StripeApi | SalesforceApi | NetSuiteApi] = {
                "stripe": stripe_api,
                "salesforce": salesforce_api,
                "netsuite": netsuite_api,
            }
            loaded = _extract_and_load(con, settings, system, apis[system], context.log)
            results = {r.obj: r for r in loaded}
            for key, obj in keys:
                table = ".".join(key.path)
                rows = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                metadata: dict[str, dg.RawMetadataValue] = {"dagster/row_count": rows}
                if obj in results and key.path[-1] == SPECS_BY_OBJ[(system, obj)]:
                    r = results[obj]
                    metadata.update(
                        records_in=r.records_in,
                        loaded=r.loaded,
                        quarantined=r.quarantined,
                        batch_id=r.batch_id,
                        already_loaded=r.already_loaded,
                        cursor=r.cursor_max or "",
                    )
                if key.path[-1] == "quarantine":
                    metadata["quarantined_this_run"] = sum(r.quarantined for r in results.values())
                    metadata["preview"] = dg.MetadataValue.md(_quarantine_preview(con, table))
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            context.log.info(
                "%s: %d records in, %d loaded, %d quarantined",
                system,
                sum(r.records_in for r in results.values()),
                sum(r.loaded for r in results.values()),
                sum(r.quarantined for r in results.values()),
            )

    return _load


SPECS_BY_OBJ = {(system, spec.name): spec.table for system in SPECS for spec in SPECS[system]}


def _quarantine_preview(con: duckdb.DuckDBPyConnection, table: str) -> str:
    rows = con.sql(
        f"SELECT object, line, coalesce(record_id, ''), rule FROM {table} "
        "ORDER BY quarantined_at DESC, object, line LIMIT 10"
    ).fetchall()
    if not rows:
        return "No quarantined records."
    lines = ["| object | line | record | rule |", "|---|---|---|---|"]
    lines += [f"| {o} | {n} | {i} | {r.replace('|', '/')} |" for o, n, i, r in rows]
    return "\n".join(lines)


raw_salesforce = build_raw_assets("salesforce")
raw_stripe = build_raw_assets("stripe")
raw_netsuite = build_raw_assets("netsuite")
