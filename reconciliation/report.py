"""The finance report: one self-contained HTML file per run that opens offline.

Headline MRR/ARR, the MRR bridge as a chart, exceptions by owner and check with amounts and
aging, posting latency, and the top exceptions with their detail sentences. Charts are SVG
drawn here (no scripts or fonts fetched from anywhere); a few lines of inline script only
make tables sortable and mark the page ready.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from reconciliation import metrics

PALETTE = {
    "new": "#2e7d32",
    "expansion": "#66bb6a",
    "reactivation": "#26a69a",
    "contraction": "#ef6c00",
    "churn": "#c62828",
    "fx": "#7e57c2",
}
AGE_COLORS = {
    "0-2 days": "#90caf9",
    "3-7 days": "#42a5f5",
    "8-30 days": "#1e88e5",
    "> 30 days": "#0d47a1",
}


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def money(value: Any, currency: str = "") -> str:
    if value is None:
        return "–"
    text = f"{float(value):,.2f}"
    return f"{currency} {text}".strip()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    rel = con.execute(sql)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def bridge_chart(bridge: list[dict], currency: str, width: int = 860, height: int = 320) -> str:
    """Monthly MRR movements as stacked bars (up: new, expansion, reactivation; down:
    contraction, churn; fx either way) with ending MRR as a line on its own scale."""
    if not bridge:
        return '<p class="empty">No MRR history yet.</p>'
    left, right, top, bottom = 70, 70, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    ups = [sum(max(float(m[k] or 0), 0) for k in PALETTE) for m in bridge]
    downs = [sum(min(float(m[k] or 0), 0) for k in PALETTE) for m in bridge]
    hi, lo = max([*ups, 1.0]), min([*downs, 0.0])
    ends = [float(m["ending_mrr"] or 0) for m in bridge]
    end_hi = max([*ends, 1.0])

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    def y_end(v: float) -> float:
        return top + plot_h * (1 - v / end_hi)

    step = plot_w / len(bridge)
    bar_w = step * 0.6
    parts = [
        f'<svg class="chart" id="mrr-bridge" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="MRR bridge by month">',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="axis"/>',
    ]
    for i, m in enumerate(bridge):
        x = left + i * step + (step - bar_w) / 2
        up, down = 0.0, 0.0
        for key, color in PALETTE.items():
            v = float(m[key] or 0)
            if v == 0:
                continue
            base = up if v > 0 else down
            y0, y1 = y(base), y(base + v)
            parts.append(
                f'<rect class="bar bar-{key}" x="{x:.1f}" y="{min(y0, y1):.1f}" width="{bar_w:.1f}" '
                f'height="{abs(y1 - y0):.1f}" fill="{color}"><title>{esc(m["month"])} {key}: '
                f"{esc(money(v, currency))}</title></rect>"
            )
            if v > 0:
                up += v
            else:
                down += v
        label = str(m["month"])[:7]
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 28}" class="tick" '
            f'text-anchor="middle">{esc(label[2:])}</text>'
        )
    points = " ".join(
        f"{left + i * step + step / 2:.1f},{y_end(v):.1f}" for i, v in enumerate(ends)
    )
    parts.append(
        f'<polyline class="ending-mrr" points="{points}" fill="none" stroke="#263238" stroke-width="2"/>'
    )
    parts.append(
        f'<text x="{width - right + 6}" y="{y_end(ends[-1]):.1f}" class="tick">'
        f"{esc(money(ends[-1]))}</text>"
    )
    for v in (hi, lo):
        parts.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">{v:,.0f}</text>'
        )
    legend_x = left
    for key, color in PALETTE.items():
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
        )
        parts.append(f'<text x="{legend_x + 14}" y="{height - 5}" class="tick">{key}</text>')
        legend_x += 100
    parts.append(
        f'<line x1="{legend_x}" x2="{legend_x + 14}" y1="{height - 9}" y2="{height - 9}" '
        'stroke="#263238" stroke-width="2"/>'
        f'<text x="{legend_x + 18}" y="{height - 5}" class="tick">ending MRR</text></svg>'
    )
    return "".join(parts)


def hbar_chart(rows: list[tuple[str, float, str]], chart_id: str, width: int = 420) -> str:
    """Horizontal bars: (label, value, value text)."""
    if not rows:
        return '<p class="empty">Nothing open.</p>'
    row_h, label_w = 26, 150
    height = row_h * len(rows) + 10
    top = max(v for _, v, _ in rows) or 1.0
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for i, (label, value, text) in enumerate(rows):
        w = (width - label_w - 110) * value / top
        yy = 5 + i * row_h
        parts.append(f'<text x="0" y="{yy + 16}" class="tick">{esc(label)}</text>')
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{yy + 4}" width="{max(w, 1):.1f}" height="16" fill="#1e88e5"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{yy + 16}" class="tick">{esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def aging_chart(by_age: list[dict], width: int = 420, chart_id: str = "aging") -> str:
    """Open exceptions per owner, stacked by age bucket."""
    owners = sorted({r["owner"] for r in by_age})
    if not owners:
        return '<p class="empty">Nothing open.</p>'
    counts = {(r["owner"], r["age_bucket"]): 0 for r in by_age}
    for r in by_age:
        counts[(r["owner"], r["age_bucket"])] += int(r["exceptions"])
    totals = {o: sum(counts.get((o, b), 0) for b in metrics.AGE_BUCKETS) for o in owners}
    top = max(totals.values()) or 1
    row_h, label_w = 26, 110
    height = row_h * len(owners) + 30
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for i, owner in enumerate(owners):
        x, yy = float(label_w), 5 + i * row_h
        parts.append(f'<text x="0" y="{yy + 16}" class="tick">{esc(owner)}</text>')
        for bucket in metrics.AGE_BUCKETS:
            n = counts.get((owner, bucket), 0)
            if not n:
                continue
            w = (width - label_w - 50) * n / top
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{yy + 4}" width="{w:.1f}" height="16" '
                f'fill="{AGE_COLORS[bucket]}"><title>{esc(owner)} {bucket}: {n}</title></rect>'
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{yy + 16}" class="tick">{totals[owner]}</text>')
    lx = 0
    for bucket, color in AGE_COLORS.items():
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 14}" y="{height - 5}" class="tick">{bucket}</text>')
        lx += 100
    parts.append("</svg>")
    return "".join(parts)


def table(rows: list[dict], columns: list[tuple[str, str]], table_id: str) -> str:
    if not rows:
        return '<p class="empty">None.</p>'
    head = "".join(f"<th>{esc(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(_fmt(r.get(key)))}</td>" for key, _ in columns) + "</tr>"
        for r in rows
    )
    return f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(value: object) -> object:
    if isinstance(value, float | Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return value


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2933;background:#fafbfc}
h1{margin:0 0 4px}h2{margin-top:32px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
.meta{color:#52606d}.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:16px}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:12px 16px;min-width:150px}
.card .v{font-size:22px;font-weight:600}.card .k{color:#52606d;font-size:13px}
.row{display:flex;gap:32px;flex-wrap:wrap}.chart .tick{font-size:11px;fill:#3e4c59}
.chart .axis{stroke:#9aa5b1}table{border-collapse:collapse;background:#fff;font-size:13px;margin-top:8px}
th,td{border:1px solid #d9e2ec;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8;cursor:pointer}.empty{color:#7b8794}
"""

SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var num = function (s) { var n = parseFloat(s.replace(/,/g, '')); return isNaN(n) ? s : n; };
    rows.sort(function (a, b) {
      var x = num(a.cells[th.cellIndex].textContent), y = num(b.cells[th.cellIndex].textContent);
      return x < y ? 1 : x > y ? -1 : 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.body.dataset.ready = 'true';
"""


def build_report(con: duckdb.DuckDBPyConnection, reporting_currency: str = "USD") -> str:
    """The report's HTML, from the warehouse (or the serving snapshot)."""
    as_of = metrics.as_of(con)
    headline = _rows(
        con,
        "SELECT * FROM metrics.saas_metrics WHERE entity = 'ALL' ORDER BY month DESC LIMIT 1",
    )
    head = headline[0] if headline else {}
    bridge = _rows(
        con,
        "SELECT * FROM (SELECT * FROM metrics.mrr_bridge WHERE entity = 'ALL' "
        "ORDER BY month DESC LIMIT 12) ORDER BY month",
    )
    owners = metrics.summary_by_owner(con)
    runs = metrics.latest_check_runs(con)
    by_age = metrics.open_by_owner_and_age(con)
    by_queue_age = metrics.open_by_owner_and_queue_age(con)
    latency = metrics.posting_latency(con)
    lag = metrics.activation_lag(con)
    top = metrics.top_exceptions(con, 25)
    open_total = sum(int(o["open_exceptions"]) for o in owners)
    at_risk = sum(float(o["amount_at_risk"]) for o in owners)
    cards = [
        ("MRR", money(head.get("mrr"), reporting_currency)),
        ("ARR", money(head.get("arr"), reporting_currency)),
        ("Active customers", f"{int(head.get('active_customers') or 0):,}"),
        ("NRR 12m", _pct(head.get("nrr_12m"))),
        ("GRR 12m", _pct(head.get("grr_12m"))),
        ("Open exceptions", f"{open_total:,}"),
        ("Amount at risk", money(at_risk, reporting_currency)),
    ]
    card_html = "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>'
        for k, v in cards
    )
    owner_chart = hbar_chart(
        [
            (
                o["owner"],
                float(o["amount_at_risk"]),
                f"{money(o['amount_at_risk'])} · {o['open_exceptions']}",
            )
            for o in owners
        ],
        "by-owner",
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>revops finance report {esc(_date(as_of))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<h1>Revenue and reconciliation report</h1>
<div class="meta">Data as of {esc(as_of)} · reporting currency {esc(reporting_currency)} · generated {generated}</div>
<div class="cards">{card_html}</div>
<h2>MRR bridge (last 12 months, {esc(reporting_currency)})</h2>
{bridge_chart(bridge, reporting_currency)}
{table(bridge, [("month", "Month"), ("starting_mrr", "Starting"), ("new", "New"), ("expansion", "Expansion"), ("reactivation", "Reactivation"), ("contraction", "Contraction"), ("churn", "Churn"), ("fx", "FX"), ("ending_mrr", "Ending"), ("active_customers", "Active")], "bridge-table")}
<h2>Exceptions by owner</h2>
<div class="row"><div><h3>Amount at risk and count</h3>{owner_chart}</div><div><h3>Aging (open, since the discrepancy started)</h3>{aging_chart(by_age)}</div><div><h3>Time in queue (open)</h3>{aging_chart(by_queue_age, chart_id="queue-aging")}</div></div>
{table(by_age, [("owner", "Owner"), ("check_id", "Check"), ("entity", "Entity"), ("age_bucket", "Age"), ("exceptions", "Open"), ("amount_at_risk", "At risk"), ("oldest_days", "Oldest (days)"), ("max_days_in_queue", "Longest in queue (days)")], "aging-table")}
<h2>Checks</h2>
{table(runs, [("check_id", "Check"), ("owner", "Owner"), ("records_checked", "Checked"), ("exceptions_open", "Open"), ("exceptions_new", "New"), ("exceptions_resolved", "Resolved"), ("amount_at_risk_reporting", "At risk"), ("match_rate", "Match rate")], "checks")}
<h2>Posting latency (Stripe finalized → NetSuite invoice)</h2>
{table(latency, [("entity", "Entity"), ("invoices", "Invoices"), ("p50_hours", "p50 h"), ("p95_hours", "p95 h"), ("max_hours", "max h"), ("over_sla", "Over SLA")], "latency")}
<p class="meta">Activation lag (close → subscription start): p50 {esc(_num(lag.get("p50_days")))} days, p95 {esc(_num(lag.get("p95_days")))} days over {esc(lag.get("deals"))} deals.</p>
<h2>Top open exceptions</h2>
{table(top, [("severity", "Severity"), ("owner", "Owner"), ("check_id", "Check"), ("entity", "Entity"), ("amount_at_risk_reporting", "At risk"), ("discrepancy_at", "Since"), ("age_days", "Age (days)"), ("queue_days", "In queue (days)"), ("detail", "What to do about it")], "top-exceptions")}
<script>{SCRIPT}</script>
</body></html>
"""


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}%"


def _num(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def _date(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else str(value)


def write_report(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, run_id: str, reporting_currency: str = "USD"
) -> Path:
    """Write ``<reports_dir>/finance-report-<as-of date>-<run>.html`` and ``latest.html``."""
    page = build_report(con, reporting_currency)
    reports_dir.mkdir(parents=True, exist_ok=True)
    name = f"finance-report-{_date(metrics.as_of(con))}-{run_id[:8]}.html"
    path = reports_dir / name
    path.write_text(page, encoding="utf-8")
    (reports_dir / "latest.html").write_text(page, encoding="utf-8")
    return path
