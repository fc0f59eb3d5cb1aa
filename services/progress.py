"""The progress bars of long commands (rich): one look for `generate`, `process` and the rest;
`rate_progress` adds the rate and the time left, for replay and import."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def progress_bar(console: Console) -> Progress:
    """Description, bar, done/total and elapsed time; left on screen when done."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


class RateColumn(ProgressColumn):
    """Items per second: rich's recent-speed window, else the average so far ('–' before
    anything is done)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.completed and task.elapsed:
            speed = task.completed / task.elapsed
        return Text("–/s" if speed is None else f"{speed:,.0f}/s", style="cyan")


def rate_progress(console: Console) -> Progress:
    """A bar with done/total, rate, elapsed and remaining time (to stderr via `console`)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, transient=False)
