"""Render results.json into docs/benchmarks.md and its chart (matplotlib runs in the tools venv)."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
from pathlib import Path
from typing import Any

import _envs
from _envs import HERE, WORK, log

ANALYSIS = HERE / "analysis.md"  # hand-written narrative embedded in the report

REF = {"sync": "ours-sync", "async": "ours-async", "go": "ours-async"}


# --------------------------------------------------------------------------- numbers


def med(values: list[float]) -> float | None:
    vals = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    return statistics.median(vals) if vals else None


class Table:
    """Access to one pass's medians and per-round ratios."""

    def __init__(self, results: dict[str, Any], pass_name: str) -> None:
        self.pass_ = results["passes"].get(pass_name, {})
        self.cells = self.pass_.get("cells", {})
        self.contestants = results["meta"]["contestants"]
        self.kind = {c["name"]: c["kind"] for c in self.contestants}

    def entry(self, cell: str, name: str) -> dict[str, Any]:
        return self.cells.get(cell, {}).get(name, {})

    def value(self, cell: str, name: str, metric: str) -> float | None:
        return med([r.get(metric) for r in self.entry(cell, name).get("rounds", [])])

    def ratio(self, cell: str, name: str, metric: str, ref: str | None = None) -> float | None:
        """Median over rounds of (contestant / reference) in the same round (interleaved)."""
        ref = ref or REF[self.kind.get(name, "async")]
        mine = self.entry(cell, name).get("rounds", [])
        theirs = self.entry(cell, ref).get("rounds", [])
        ratios = []
        for a, b in zip(mine, theirs, strict=False):
            x, y = a.get(metric), b.get(metric)
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y:
                ratios.append(x / y)
        return med(ratios)

    def why_missing(self, cell: str, name: str) -> str:
        e = self.entry(cell, name)
        if not e:
            return "not run"
        if "na" in e:
            return "n/a: " + e["na"]
        if e.get("errors"):
            first = e["errors"][0].strip().splitlines()
            return "error: " + (first[-1] if first else "?")[:160]
        return "no data"


def failed_rounds(t: Table, cells: list[str], name: str) -> list[str]:
    """Notes for rounds that failed (errors, hangs) in cells that also have results."""
    out = []
    for cell in dict.fromkeys(cells):
        e = t.entry(cell, name)
        errors = e.get("errors", [])
        if errors and e.get("rounds"):
            last = errors[0].strip().splitlines()
            why = (last[-1] if last else "?")[:160]
            out.append(
                f"{cell}: {len(errors)} of {len(errors) + len(e['rounds'])} rounds failed ({why})"
            )
    return out


def fmt(v: float | None, kind: str) -> str:
    if v is None:
        return "—"
    if kind == "ops":
        return f"{v:,.0f}"
    if kind == "ms":
        return f"{v:.3f}" if v < 1 else (f"{v:.2f}" if v < 10 else f"{v:.1f}")
    if kind == "us":
        return f"{v:.1f}"
    if kind == "pct":
        return f"{v:.0f}%"
    if kind == "mb":
        return f"{v:.0f}"
    if kind == "x":
        return f"{v:.2f}\u00d7"
    return f"{v:.3g}"


def label(c: dict[str, Any]) -> str:
    name = c["label"]
    if c["name"].startswith("ours"):
        return f"**{name}**"
    return name


# --------------------------------------------------------------------------- tables


def metric_table(
    t: Table,
    columns: list[tuple[str, str, str, str]],  # (header, cell, metric, kind)
    ratio_cols: list[tuple[str, str, str]],  # (header, cell, metric)
) -> list[str]:
    head = ["contestant"] + [c[0] for c in columns] + [r[0] for r in ratio_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for c in t.contestants:
        name = c["name"]
        row = [label(c)]
        missing = []
        for _, cell, metric, kind in columns:
            v = t.value(cell, name, metric)
            if v is None:
                missing.append(t.why_missing(cell, name))
            row.append(fmt(v, kind) if v is not None else "n/a")
        for _, cell, metric in ratio_cols:
            row.append(fmt(t.ratio(cell, name, metric), "x"))
        reasons = sorted(set(missing)) + failed_rounds(t, [c_[1] for c_ in columns], name)
        if reasons and all(x == "n/a" for x in row[1 : 1 + len(columns)]):
            row[1] = "n/a"
            notes.append(f"{c['label']}: {'; '.join(reasons)}")
        elif reasons:
            notes.append(f"{c['label']}: {'; '.join(reasons)}")
        lines.append("| " + " | ".join(row) + " |")
    if notes:
        lines.append("")
        lines += [f"- {n}" for n in notes]
    return lines


def tp_table(t: Table, prefix: str, concs: tuple[int, ...]) -> list[str]:
    head = ["contestant"] + [f"c={c}" for c in concs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for c in t.contestants:
        name = c["name"]
        row = [label(c)]
        missing = set()
        for conc in concs:
            cell = f"{prefix}@{conc}"
            v = t.value(cell, name, "ops_s")
            r = t.ratio(cell, name, "ops_s")
            if v is None:
                row.append("n/a")
                missing.add(t.why_missing(cell, name))
            else:
                row.append(f"{fmt(v, 'ops')} ({fmt(r, 'x')})")
        failures = failed_rounds(t, [f"{prefix}@{conc}" for conc in concs], name)
        if missing or failures:
            notes.append(f"{c['label']}: {'; '.join(sorted(missing) + failures)}")
        lines.append("| " + " | ".join(row) + " |")
    if notes:
        lines.append("")
        lines += [f"- {n}" for n in notes]
    return lines


def cpu_table(t: Table, prefix: str, concs: tuple[int, ...]) -> list[str]:
    head = ["contestant"] + [f"c={c}" for c in concs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in t.contestants:
        row = [label(c)] + [
            fmt(t.value(f"{prefix}@{k}", c["name"], "cpu_us_per_op"), "us") for k in concs
        ]
        if all(x == "—" for x in row[1:]):
            continue
        lines.append("| " + " | ".join(row) + " |")
    return lines


# --------------------------------------------------------------------------- targets


def targets(t: Table) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows for issue 6's targets."""
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "—" if ok is None else ("met" if ok else "**missed**")

    peers = [
        c["name"]
        for c in t.contestants
        if c["kind"] in ("sync", "async") and not c["name"].startswith(("ours", "grpc"))
    ]
    for ours, bare in (("ours-sync", "grpc-sync"), ("ours-async", "grpc-aio")):
        for cell in ("put_seq", "get_seq"):
            r = t.ratio(cell, ours, "p50_ms", ref=bare)
            mine = t.value(cell, ours, "p50_ms")
            beaten = []
            for p in peers:
                theirs = t.value(cell, p, "p50_ms")
                if mine is not None and theirs is not None and theirs <= mine:
                    beaten.append(p)
            ok = None if r is None else (r <= 1.10 and not beaten)
            what = (
                f"{ours} {cell.replace('_seq', '')} p50 {fmt(mine, 'ms')} ms = {fmt(r, 'x')} {bare}"
            )
            if beaten:
                what += f"; not ahead of {', '.join(beaten)}"
            rows.append(
                (
                    f"Sequential {cell[:3]} p50 within 10% of bare grpcio, ahead of every Python peer ({ours})",
                    what,
                    verdict(ok),
                )
            )
    for conc in (32, 128):
        r = t.ratio(f"put_tp@{conc}", "ours-async", "ops_s", ref="go")
        v = t.value(f"put_tp@{conc}", "ours-async", "ops_s")
        g = t.value(f"put_tp@{conc}", "go", "ops_s")
        ba = t.ratio(f"put_tp@{conc}", "grpc-aio", "ops_s", ref="go")
        rows.append(
            (
                f"AsyncClient {conc} concurrent puts >= 0.7\u00d7 Go clientv3",
                f"{fmt(v, 'ops')} vs Go {fmt(g, 'ops')} ops/s = {fmt(r, 'x')} (bare grpc.aio: {fmt(ba, 'x')})",
                verdict(None if r is None else r >= 0.7),
            )
        )
    r = t.ratio("put_tp@32", "ours-sync", "ops_s", ref="grpc-sync")
    rows.append(
        (
            "Sync Client, 32 threads: at least bare sync grpcio",
            f"{fmt(t.value('put_tp@32', 'ours-sync', 'ops_s'), 'ops')} ops/s = {fmt(r, 'x')} bare",
            verdict(None if r is None else r >= 1.0),
        )
    )
    for ours in ("ours-async", "ours-sync"):
        r = t.ratio("range", ours, "p50_ms", ref="go")
        rows.append(
            (
                f"Range of 10,000 keys within 10% of Go ({ours})",
                f"{fmt(t.value('range', ours, 'p50_ms'), 'ms')} ms vs Go {fmt(t.value('range', 'go', 'p50_ms'), 'ms')} ms = {fmt(r, 'x')}",
                verdict(None if r is None else r <= 1.10),
            )
        )
    for ours in ("ours-async", "ours-sync"):
        cpu = t.value("watch", ours, "cpu_us_per_event")
        p99 = t.value("watch", ours, "lat_p99_ms")
        bare = "grpc-aio" if ours == "ours-async" else "grpc-sync"
        rows.append(
            (
                f"Watch: client CPU per event < 40 µs ({ours})",
                f"{fmt(cpu, 'us')} µs (bare {bare} here: "
                f"{fmt(t.value('watch', bare, 'cpu_us_per_event'), 'us')} µs)",
                verdict(None if cpu is None else cpu < 40),
            )
        )
        rows.append(
            (
                f"Watch: put-to-event p99 < 10 ms ({ours})",
                f"{fmt(p99, 'ms')} ms (bare {bare} here: "
                f"{fmt(t.value('watch', bare, 'lat_p99_ms'), 'ms')} ms)",
                verdict(None if p99 is None else p99 < 10),
            )
        )
    for ours in ("ours-async", "ours-sync"):
        v = t.value("lock_uncontended", ours, "cycles_s")
        rows.append(
            (
                f"Lock uncontended >= 1,000 cycles/s ({ours})",
                fmt(v, "ops") if v else t.why_missing("lock_uncontended", ours),
                verdict(None if v is None else v >= 1000),
            )
        )
        v = t.value("lock_handoff@4", ours, "handoffs_s")
        rows.append(
            (
                f"Lock fair hand-off >= 500/s with 4 processes ({ours})",
                fmt(v, "ops") if v else t.why_missing("lock_handoff@4", ours),
                verdict(None if v is None else v >= 500),
            )
        )
        v = t.value("lock_handoff@4", ours, "lat_p50_ms")
        rows.append(
            (
                f"Lock hand-off p50 < 3 ms with 4 processes ({ours})",
                f"{fmt(v, 'ms')} ms" if v else t.why_missing("lock_handoff@4", ours),
                verdict(None if v is None else v < 3),
            )
        )
        v = t.value("lock_handoff@4", ours, "share_dev_pct")
        rows.append(
            (
                f"Lock: every worker's share within 10% of the mean, 4 processes ({ours})",
                f"{fmt(v, 'pct')}" if v is not None else t.why_missing("lock_handoff@4", ours),
                verdict(None if v is None else v <= 10),
            )
        )
        v = t.value("election", ours, "p50_ms")
        rows.append(
            (
                f"Election resign-to-new-leader p50 < 5 ms ({ours})",
                f"{fmt(v, 'ms')} ms" if v else t.why_missing("election", ours),
                verdict(None if v is None else v < 5),
            )
        )
    return rows


# Go clientv3 on the machine where issue 6's absolute targets were set (its anchor run).
ANCHOR_GO = {"put_seq p50 ms": 0.29, "lock cycles/s": 1400.0}


def machine_note(t: Table) -> str:
    """How this machine compares with the one the absolute targets were set on, by Go's figures
    (the ratio targets need no such correction)."""
    put = t.value("put_seq", "go", "p50_ms")
    lock = t.value("lock_uncontended", "go", "cycles_s")
    if put is None and lock is None:
        return "_Go did not run: this machine cannot be compared with the targets' anchor run._"
    parts = []
    if put is not None:
        slower = put / ANCHOR_GO["put_seq p50 ms"]
        parts.append(f"sequential put p50 {fmt(put, 'ms')} ms (anchor 0.29 ms: {slower:.2f}\u00d7)")
    if lock is not None:
        share = lock / ANCHOR_GO["lock cycles/s"]
        parts.append(
            f"uncontended lock {fmt(lock, 'ops')} cycles/s (anchor 1,400: {share:.2f}\u00d7; the "
            f"same share of the 1,000 cycles/s target is {1000 * share:,.0f})"
        )
    return (
        "The absolute targets (µs, ms, cycles/s) were set on the issue's anchor machine; ratios "
        "need no correction. Go clientv3 on this machine, in this run: "
        + "; ".join(parts)
        + ". Absolute figures here are to be read against that."
    )


# --------------------------------------------------------------------------- chart


COLORS = {
    "ours-async": "#d62728",
    "ours-sync": "#ff7f0e",
    "grpc-aio": "#7f7f7f",
    "grpc-sync": "#bcbcbc",
    "go": "#17becf",
}


def chart_spec(results: dict[str, Any]) -> dict[str, Any]:
    t = Table(results, "fsync")
    tn = Table(results, "nofsync")
    names = [c["name"] for c in t.contestants]
    labels = {c["name"]: c["label"] for c in t.contestants}

    def series(tab: Table, cell: str, metric: str) -> list[float | None]:
        return [tab.value(cell, n, metric) for n in names]

    return {
        "names": names,
        "labels": labels,
        "colors": COLORS,
        "title": f"etcd-recipes vs peers — etcd {results['passes'].get('fsync', {}).get('etcd', '?')}, "
        f"{results['meta'].get('cpus')} cores, medians of {results['meta'].get('rounds')} interleaved rounds",
        "panels": [
            {
                "title": "Put throughput (ops/s, fsync on)",
                "groups": {f"c={c}": series(t, f"put_tp@{c}", "ops_s") for c in (1, 8, 32, 128)},
                "xlabel": "ops/s",
            },
            {
                "title": "Get throughput (ops/s)",
                "groups": {f"c={c}": series(t, f"get_tp@{c}", "ops_s") for c in (1, 8, 32, 128)},
                "xlabel": "ops/s",
            },
            {
                "title": "Put throughput (ops/s, fsync off)",
                "groups": {f"c={c}": series(tn, f"put_tp@{c}", "ops_s") for c in (1, 8, 32, 128)},
                "xlabel": "ops/s",
            },
            {
                "title": "Sequential latency p50 (ms, lower is better)",
                "groups": {
                    "put": series(t, "put_seq", "p50_ms"),
                    "get": series(t, "get_seq", "p50_ms"),
                },
                "xlabel": "ms",
            },
            {
                "title": "Range of 10,000 keys p50 (ms, lower is better)",
                "groups": {"range": series(t, "range", "p50_ms")},
                "xlabel": "ms",
            },
            {
                "title": "Watch: client CPU per event (µs, lower is better)",
                "groups": {"CPU/event": series(t, "watch", "cpu_us_per_event")},
                "xlabel": "µs",
            },
        ],
    }


def render_chart(results: dict[str, Any], png: Path) -> str:
    python, why = _envs.ensure_venv("tools")
    if python is None:
        return f"chart not drawn: {why}"
    spec = WORK / "chart-spec.json"
    spec.write_text(json.dumps(chart_spec(results)))
    proc = subprocess.run(
        [str(python), str(HERE / "_chart.py"), str(spec), str(png)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return f"chart not drawn: {proc.stderr.strip()[-400:]}"
    return ""


# --------------------------------------------------------------------------- document


def write(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    chart_problem = render_chart(results, png)
    text = "\n".join(document(results, png.name, chart_problem)) + "\n"
    out.write_text(text)
    log(f"[report] {out} and {png}")


def document(results: dict[str, Any], png_name: str, chart_problem: str) -> list[str]:
    meta = results["meta"]
    t = Table(results, "fsync")
    tn = Table(results, "nofsync")
    L: list[str] = []
    add = L.append
    add("# Benchmarks: etcd-recipes side by side with every peer")
    add("")
    add(
        f"Generated by `python benchmarks/run.py{' ' + ' '.join(meta.get('argv', [])) if meta.get('argv') else ''}` "
        f"on {meta.get('date')} in {meta.get('duration_s', 0) / 60:.0f} min. **Do not edit by hand**: re-running the "
        "command regenerates this page and its chart (the prose of *Where the time goes* lives in "
        "`benchmarks/analysis.md`)."
    )
    if meta.get("quick"):
        add("")
        add(
            "> **This is a `--quick` smoke run** (tiny sizes, one round): do not quote these figures."
        )
    add("")
    add("## How to run")
    add("")
    add("```sh")
    add(
        "python benchmarks/run.py            # full run, ~20 min on 2 cores; writes docs/benchmarks.md + docs/benchmarks.png"
    )
    add("python benchmarks/run.py --quick    # smoke run, under 2 minutes")
    add("python benchmarks/run.py --rounds 5 --only put_tp,watch --contestants ours-async,go,aetcd")
    add("python benchmarks/run.py --report-only   # re-render from benchmarks/.work/results.json")
    add("```")
    add("")
    add(
        "The runner starts one etcd with `etcd_recipes.testing.EtcdServer` (first pass with etcd's default "
        "fsync, second pass with `--unsafe-no-fsync` to show client-bound figures), creates one virtual "
        "environment per peer under `benchmarks/.work/venvs/` (pip from PyPI; nothing global), builds the Go "
        "contestant with Debian's `golang-go` + `golang-etcd-server-dev` (GOPATH mode), and runs every "
        "contestant as its own worker process speaking JSON lines (`benchmarks/contestants/`). Every "
        "workload is written once (`benchmarks/contestants/_harness.py` for Python, "
        "`benchmarks/go/src/etcdbench/main.go` for Go), so all contestants run the same loop around their own "
        "calls. Contestants are interleaved (A B C …, then B C … A, …) in every round of every workload; "
        "tables show the **median over rounds**, and ratios are the **median of per-round ratios** against our "
        "client of the same kind (sync peers against `Client`, async peers and Go against `AsyncClient`)."
    )
    add("")
    add("## Machine and versions")
    add("")
    add(
        f"- {meta.get('cpus')} \u00d7 {meta.get('cpu_model')}, {meta.get('mem_gb')} GiB RAM, {meta.get('platform')}"
    )
    add(
        f"- Python {meta.get('python')} for every Python contestant; {meta.get('go') or 'Go: not installed'}"
    )
    add(f"- etcd {meta.get('etcd')}; flags: `{' '.join(t.pass_.get('etcd_args', []))}`")
    la0, la1 = meta.get("loadavg_start"), meta.get("loadavg_end")
    busy = meta.get("others_busy_pct", 0.0)
    if la0 and la1:
        add(
            f"- load average at start {la0[0]:.2f}, at end {la1[0]:.2f} (our own etcd, writer and worker count too)"
        )
    pyt, etc = meta.get("others_max", [0, 0])
    if busy and pyt:  # an idle stray etcd is not load
        add(
            f"- **shared, busy machine**: other engineers' test suites (up to {pyt} pytest and {etc} etcd "
            f"processes not ours) were running during {busy:.0f}% of the measurements; absolute figures "
            "are noisy, prefer the ratios, which come from interleaved rounds"
        )
    p = meta.get("params", {})
    add(
        f"- sizes: {meta.get('rounds')} rounds; sequential {p.get('n')} ops; throughput {p.get('warmup_s')} s warm-up + "
        f"{p.get('duration_s')} s measured per cell; range {p.get('range_keys'):,} keys \u00d7 {p.get('range_n')}; "
        f"watch {p.get('watch_events'):,} puts by a separate grpc.aio writer ({p.get('writer_conc')} in flight); "
        f"{p.get('leases'):,} leases (TTL {p.get('ttl')} s, kept alive {p.get('hold_s')} s); lock hand-off "
        f"4 and {p.get('contenders')} processes \u00d7 {p.get('contend_s')} s; {p.get('election_n')} elections"
    )
    add("")
    add("| contestant | library | API | protobuf / notes |")
    add("|---|---|---|---|")
    for c in meta["contestants"]:
        info = c.get("info", {})
        notes = "; ".join(
            x for x in (info.get("protobuf", ""), c.get("note", ""), info.get("go", "")) if x
        )
        if c.get("unavailable"):
            notes = "**n/a everywhere**: " + c["unavailable"]
        add(f"| {label(c)} | {info.get('library', '?')} | {info.get('api', c['kind'])} | {notes} |")
    add("")
    add("## Summary")
    add("")
    if chart_problem:
        add(f"_{chart_problem}_")
    else:
        add(f"![benchmark chart]({png_name})")
    add("")
    add(headline(t, tn))
    add("")
    add("### Targets from issue 6")
    add("")
    add("| target | measured | |")
    add("|---|---|---|")
    for target, measured, ok in targets(t):
        add(f"| {target} | {measured} | {ok} |")
    add("")
    add(machine_note(t))
    add("")
    add("## Results with fsync on (etcd's default)")
    add("")
    add("### Sequential latency, 100-byte values (ms; ratio: p50 against ours, >1 = slower)")
    add("")
    L += metric_table(
        t,
        [
            ("put p50", "put_seq", "p50_ms", "ms"),
            ("put p99", "put_seq", "p99_ms", "ms"),
            ("get p50", "get_seq", "p50_ms", "ms"),
            ("get p99", "get_seq", "p99_ms", "ms"),
        ],
        [("put p50 vs ours", "put_seq", "p50_ms"), ("get p50 vs ours", "get_seq", "p50_ms")],
    )
    add("")
    add("### Put throughput (ops/s; in brackets: against ours, >1 = faster)")
    add("")
    add(
        "Threads for sync clients, asyncio tasks for async ones, goroutines for Go; each worker writes its own key."
    )
    add("")
    L += tp_table(t, "put_tp", (1, 8, 32, 128))
    add("")
    add("### Get throughput (ops/s, linearizable reads of one key)")
    add("")
    L += tp_table(t, "get_tp", (1, 8, 32, 128))
    add("")
    add("### Client CPU per put (µs of the client process's CPU per operation)")
    add("")
    L += cpu_table(t, "put_tp", (1, 8, 32, 128))
    add("")
    add("### Range read of 10,000 keys by prefix (ms; every key and value is handed to the caller)")
    add("")
    L += metric_table(
        t,
        [("p50", "range", "p50_ms", "ms"), ("p99", "range", "p99_ms", "ms")],
        [("p50 vs ours", "range", "p50_ms")],
    )
    add("")
    add(
        "### Transaction compare-and-swap (ops/s; `If(value == old) Then(put new)`, each worker its own key)"
    )
    add("")
    L += tp_table(t, "txn_tp", (1, 32))
    add("")
    add(f"### Watch delivery ({p.get('watch_events', 0):,} puts by a separate writer process)")
    add("")
    add(
        "CPU is the watching process's user+system time (`getrusage`) from the watch's creation to the "
        "last event, divided by the events delivered; latency is from the writer's wall-clock stamp in each "
        "value (taken just before its put) to the event's arrival in the watcher."
    )
    add("")
    L += metric_table(
        t,
        [
            ("events/s", "watch", "events_s", "ops"),
            ("latency p50 ms", "watch", "lat_p50_ms", "ms"),
            ("latency p99 ms", "watch", "lat_p99_ms", "ms"),
            ("CPU µs/event", "watch", "cpu_us_per_event", "us"),
            ("missed", "watch", "missing", "n"),
            ("peak RSS MB", "watch", "peak_rss_mb", "mb"),
        ],
        [("CPU/event vs ours", "watch", "cpu_us_per_event")],
    )
    add("")
    add(
        f"### Leases: grant {p.get('leases', 0):,} (16 at a time), keep them all alive, revoke them"
    )
    add("")
    add(
        "Keep-alive uses each client's own mechanism; where a client has none, a loop calls its "
        "refresh-once verb for every lease each ttl/3 (noted in the worker). `alive` is the share of leases "
        "etcd still had after the hold (checked by the runner), `keep-alive CPU` the client process's CPU "
        "during the hold as a share of one core."
    )
    add("")
    L += metric_table(
        t,
        [
            ("grants/s", "lease", "grants_s", "ops"),
            ("revokes/s", "lease", "revokes_s", "ops"),
            ("alive", "lease", "alive_pct", "pct"),
            ("keep-alive CPU", "lease", "ka_cpu_pct", "pct"),
            ("peak RSS MB", "lease", "peak_rss_mb", "mb"),
        ],
        [("grants/s vs ours", "lease", "grants_s")],
    )
    add("")
    add(
        f"### Locks: uncontended acquire+release cycles/s; hand-off between 4 and {p.get('contenders')} processes"
    )
    add("")
    add(
        "Each worker uses its client's lock as documented; ours and Go's use one session (lease) "
        "per process, created before the timing starts (`client.lock(name, session=...)` / "
        "`concurrency.NewMutex(session, name)`); etcd3, aetcd and etcd3aio grant a lease per "
        "acquire by design, and etcd-client-py's `with_lock()` also opens a connection per acquire. "
        "The definitions are those of `benchmarks/bench_lock.py` and `benchmarks/bench_election.py` "
        "(standalone figures of our recipes alone, with etcd's request counts), applied here to "
        "every client that has a lock or an election."
    )
    add("")
    add(
        "Hand-off latency: from the holder's release call to the next holder's acquire returning (wall "
        "clock, across processes). `max share dev`: the largest distance of one process's acquisitions "
        "from the mean, over the mean (issue #4: within 10%). `spread`: (max \u2212 min) acquisitions "
        "per process over the mean (fairness). "
        "`overlaps`: acquisitions that began before the previous holder's release — must be 0."
    )
    add("")
    L += metric_table(
        t,
        [
            ("uncontended cycles/s", "lock_uncontended", "cycles_s", "ops"),
            ("4 procs: hand-offs/s", "lock_handoff@4", "handoffs_s", "ops"),
            ("p50 ms", "lock_handoff@4", "lat_p50_ms", "ms"),
            ("p99 ms", "lock_handoff@4", "lat_p99_ms", "ms"),
            ("max share dev", "lock_handoff@4", "share_dev_pct", "pct"),
            ("overlaps", "lock_handoff@4", "overlaps", "n"),
            ("8 procs: hand-offs/s", "lock_handoff", "handoffs_s", "ops"),
            ("p50 ms", "lock_handoff", "lat_p50_ms", "ms"),
            ("p99 ms", "lock_handoff", "lat_p99_ms", "ms"),
            ("spread", "lock_handoff", "share_spread_pct", "pct"),
            ("overlaps", "lock_handoff", "overlaps", "n"),
        ],
        [("uncontended vs ours", "lock_uncontended", "cycles_s")],
    )
    add("")
    add("### Election failover: leader resigns, the waiting candidate is elected (ms)")
    add("")
    L += metric_table(
        t,
        [("p50", "election", "p50_ms", "ms"), ("p99", "election", "p99_ms", "ms")],
        [("p50 vs ours", "election", "p50_ms")],
    )
    add("")
    add("### Memory: peak RSS of the contestant's process (MB; a fresh process per run)")
    add("")
    L += metric_table(
        t,
        [("watch", "watch", "peak_rss_mb", "mb"), ("1,000 leases", "lease", "peak_rss_mb", "mb")],
        [],
    )
    add("")
    add("## Results with fsync off (`--unsafe-no-fsync`: client-bound figures)")
    add("")
    if "na" in tn.pass_:
        add(f"_Not run: {tn.pass_['na']}._")
    elif not tn.cells:
        add("_Not run in this invocation._")
    else:
        add("### Sequential put latency (ms)")
        add("")
        L += metric_table(
            tn,
            [("put p50", "put_seq", "p50_ms", "ms"), ("put p99", "put_seq", "p99_ms", "ms")],
            [("p50 vs ours", "put_seq", "p50_ms")],
        )
        add("")
        add("### Put throughput (ops/s; against ours)")
        add("")
        L += tp_table(tn, "put_tp", (1, 8, 32, 128))
        add("")
        add("### Transaction compare-and-swap (ops/s)")
        add("")
        L += tp_table(tn, "txn_tp", (1, 32))
    add("")
    add("## `etcdctl check perf` (reference: etcd's own load generator on the same server)")
    add("")
    cp = t.pass_.get("check_perf")
    if not cp:
        add("_Not run in this invocation (skipped by --quick/--only)._")
    elif "na" in cp:
        add(f"_n/a: {cp['na']}_")
    else:
        add("```")
        add(cp.get("output", ""))
        add("```")
    add("")
    add("## Where the time goes")
    add("")
    L += hotpath_section(results.get("hotpath"))
    L += profile_section(results.get("profiles"))
    if ANALYSIS.exists():
        add("")
        L += ANALYSIS.read_text().rstrip().splitlines()
    return L


def headline(t: Table, tn: Table) -> str:
    def r(cell: str, name: str, metric: str, ref: str) -> str:
        return fmt(t.ratio(cell, name, metric, ref=ref), "x")

    parts = []
    v = t.value("put_tp@32", "ours-async", "ops_s")
    if v is not None:
        parts.append(
            f"**Puts at concurrency 32** (fsync on): AsyncClient {fmt(v, 'ops')} ops/s = "
            f"{r('put_tp@32', 'ours-async', 'ops_s', 'grpc-aio')} bare grpc.aio, "
            f"{r('put_tp@32', 'ours-async', 'ops_s', 'go')} Go clientv3; sync Client "
            f"{fmt(t.value('put_tp@32', 'ours-sync', 'ops_s'), 'ops')} ops/s = "
            f"{r('put_tp@32', 'ours-sync', 'ops_s', 'grpc-sync')} bare sync grpcio."
        )
    v = t.value("put_seq", "ours-sync", "p50_ms")
    if v is not None:
        parts.append(
            f"**Sequential put p50**: Client {fmt(v, 'ms')} ms = {r('put_seq', 'ours-sync', 'p50_ms', 'grpc-sync')} bare; "
            f"AsyncClient {fmt(t.value('put_seq', 'ours-async', 'p50_ms'), 'ms')} ms = "
            f"{r('put_seq', 'ours-async', 'p50_ms', 'grpc-aio')} bare; Go {fmt(t.value('put_seq', 'go', 'p50_ms'), 'ms')} ms."
        )
    v = t.value("range", "ours-async", "p50_ms")
    if v is not None:
        parts.append(
            f"**10,000-key range**: AsyncClient {fmt(v, 'ms')} ms = {r('range', 'ours-async', 'p50_ms', 'go')} Go's "
            f"{fmt(t.value('range', 'go', 'p50_ms'), 'ms')} ms."
        )
    v = t.value("watch", "ours-async", "cpu_us_per_event")
    if v is not None:
        parts.append(
            f"**Watch**: AsyncClient {fmt(v, 'us')} µs CPU/event (bare grpc.aio "
            f"{fmt(t.value('watch', 'grpc-aio', 'cpu_us_per_event'), 'us')}, Go {fmt(t.value('watch', 'go', 'cpu_us_per_event'), 'us')})."
        )
    # Best peer at c=32 among Python peers.
    peers = [
        c["name"]
        for c in t.contestants
        if not c["name"].startswith(("ours", "grpc")) and c["name"] != "go"
    ]
    best = sorted(((t.value("put_tp@32", n, "ops_s") or 0, n) for n in peers), reverse=True)
    if best and best[0][0]:
        parts.append(
            "Best Python peers at 32 concurrent puts: "
            + ", ".join(f"{n} {fmt(v, 'ops')}" for v, n in best[:3] if v)
            + " ops/s."
        )
    return "\n".join(f"- {x}" for x in parts)


def profile_section(profiles: Any) -> list[str]:
    if not profiles:
        return [
            "_No profile in this invocation (py-spy profiles run with the full benchmark only)._"
        ]
    L = []
    for prof in profiles:
        L.append(f"### py-spy: {prof['title']}")
        L.append("")
        if "na" in prof:
            L.append(f"_n/a: {prof['na']}_")
            L.append("")
            continue
        L.append(
            f"{prof['samples']:,} samples at {prof['rate']} Hz of the worker process "
            f"({prof['ops_s']:,.0f} ops/s while profiled; py-spy slows the process a little). "
            "Share of samples by the code running at the top of the stack:"
        )
        L.append("")
        L.append("| where (leaf frame) | share |")
        L.append("|---|---|")
        for cat, share in prof["by_category"]:
            L.append(f"| {cat} | {share:.1f}% |")
        L.append("")
        L.append("Functions of ours on the stack (inclusive share of samples):")
        L.append("")
        L.append("| function | inclusive |")
        L.append("|---|---|")
        for fn, share in prof["ours_inclusive"][:12]:
            L.append(f"| `{fn}` | {share:.1f}% |")
        L.append("")
        L.append("Hottest leaf functions (self time):")
        L.append("")
        L.append("| function | self |")
        L.append("|---|---|")
        for fn, share in prof["top_self"][:12]:
            L.append(f"| `{fn}` | {share:.1f}% |")
        L.append("")
    return L


def hotpath_section(hp: Any) -> list[str]:
    if not hp or "na" in hp:
        return []
    L = [
        "### Our own Python cost per call, without a server (`benchmarks/hotpath.py`)",
        "",
        "The member's gRPC callable is replaced by a function returning a canned response, so this "
        "is only what etcd-recipes adds around grpcio (deterministic, unlike the figures above on a "
        "busy machine). Best of 7 runs.",
        "",
        "| call | ours µs | bare µs | ours adds µs |",
        "|---|---|---|---|",
    ]
    for kind in ("sync", "async"):
        for verb, (ours, bare) in hp.get(kind, {}).items():
            L.append(f"| {kind} {verb} | {ours:.2f} | {bare:.2f} | {ours - bare:.2f} |")
    L += ["", "| piece | µs per call |", "|---|---|"]
    for name, us in hp.get("pieces", {}).items():
        L.append(f"| {name} | {us:.2f} |")
    L.append("")
    return L
