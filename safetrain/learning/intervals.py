"""Watched intervals of a lesson: merged [start, end] second ranges. Re-watched parts never credit twice (LRN-02)."""

from __future__ import annotations

Interval = list[float]


def merge(intervals: list[Interval], start: float, end: float) -> list[Interval]:
    if end <= start:
        return [list(i) for i in intervals]
    out: list[Interval] = []
    placed = False
    for a, b in sorted(intervals):
        if b < start or a > end:
            if a > end and not placed:
                out.append([start, end])
                placed = True
            out.append([a, b])
        else:
            start, end = min(start, a), max(end, b)
    if not placed:
        out.append([start, end])
    return sorted(out)


def uncovered(intervals: list[Interval], start: float, end: float) -> float:
    """Seconds of [start, end] not yet in `intervals`."""
    if end <= start:
        return 0.0
    covered = sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)
    return max(0.0, (end - start) - covered)


def total(intervals: list[Interval]) -> float:
    return sum(b - a for a, b in intervals)


def take_uncovered(
    intervals: list[Interval], start: float, end: float, limit: float
) -> tuple[list[Interval], float]:
    """Cover at most `limit` seconds of the parts of [start, end] not yet in `intervals`, from `start` on.

    Returns the new intervals and the seconds newly covered: credit is always exactly what this adds, so
    seconds already watched can never be paid twice."""
    if end <= start or limit <= 0:
        return [list(i) for i in intervals], 0.0
    taken = 0.0
    result = [list(i) for i in intervals]
    cursor = start
    for a, b in sorted(intervals) + [[end, end]]:
        if b <= cursor:
            continue
        gap_end = min(a, end)
        if gap_end > cursor:
            piece = min(gap_end - cursor, limit - taken)
            if piece > 0:
                result = merge(result, cursor, cursor + piece)
                taken += piece
            if taken >= limit:
                break
        cursor = max(cursor, b)
        if cursor >= end:
            break
    return result, taken


def first_gap(intervals: list[Interval], start: float, end: float) -> float | None:
    """The first second of [start, end] not in `intervals`, or None when all of it is covered."""
    cursor = start
    for a, b in sorted(intervals):
        if a > cursor:
            break
        cursor = max(cursor, b)
    return cursor if cursor < end else None
