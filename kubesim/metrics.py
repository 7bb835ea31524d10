"""Prometheus text exposition (format 0.0.4) of the simulated traffic."""

from __future__ import annotations

from kubesim.traffic import Traffic

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ("namespace", "service", "pod", "version", "track", "code")


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def render(traffic: Traffic) -> str:
    snap = traffic.histograms()
    lines = [
        "# HELP http_requests_total Requests answered by simulated application pods.",
        "# TYPE http_requests_total counter",
    ]
    for key, count, _e, _b, _t in snap:
        lbl = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(_LABELS, key, strict=True))
        lines.append(f"http_requests_total{{{lbl}}} {count}")
    lines += [
        "# HELP http_request_duration_seconds Latency of requests answered by simulated application pods.",
        "# TYPE http_request_duration_seconds histogram",
    ]
    for key, count, edges, buckets, total in snap:
        lbl = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(_LABELS, key, strict=True))
        cum = 0
        for le, c in zip(edges, buckets, strict=False):
            cum += c
            lines.append(f'http_request_duration_seconds_bucket{{{lbl},le="{_fmt(le)}"}} {cum}')
        lines.append(f'http_request_duration_seconds_bucket{{{lbl},le="+Inf"}} {count}')
        lines.append(f"http_request_duration_seconds_sum{{{lbl}}} {total!r}")
        lines.append(f"http_request_duration_seconds_count{{{lbl}}} {count}")
    return "\n".join(lines) + "\n"
