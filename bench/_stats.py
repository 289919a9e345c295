"""What every benchmark here prints: percentiles of timed samples."""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timings(label: str, samples_ms: list[float], *, width: int = 40) -> dict:
    """Print p50/p95/max of ``samples_ms`` under ``label``; return p50 and p95."""
    p50, p95 = percentile(samples_ms, 0.5), percentile(samples_ms, 0.95)
    print(
        f"  {label:<{width}} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {max(samples_ms):7.1f} ms"
        f"   (n={len(samples_ms)})"
    )
    return {"p50": p50, "p95": p95}
