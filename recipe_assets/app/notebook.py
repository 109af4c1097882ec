"""What `Recipe.run` and `Recipe.inspect` return: text a terminal prints readably (`repr` is the text
itself, so a Python prompt shows the card, not a quoted string) and HTML a notebook shows once, as the
cell's output (`_repr_html_`)."""
from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STATE_COLORS = {"FRESH": "#cdebd3", "STALE": "#fde2a7", "MISSING": "#e6e6e6", "FAILED": "#f6c1c1"}
STATE_BORDERS = {"FRESH": "#2e8b57", "STALE": "#c98a00", "MISSING": "#999999", "FAILED": "#b00020"}
BODY = re.compile(r"<body>(.*)</body>", re.DOTALL)
CARD_ID = re.compile(r'class="recipe-card" id="(card-[0-9a-f]{8})"')


class DisplayText(str):
    """A str (what the API returned before, so `"PASS" in card` still works) that displays itself."""

    html: str = ""

    def __new__(cls, text: str, html_text: str = ""):
        made = super().__new__(cls, text)
        made.html = html_text
        return made

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython's plain-text display (a terminal IPython)
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return self.html or f"<pre>{html.escape(str(self))}</pre>"


class StepCard(DisplayText):
    """A step's card: the text of its tables, and the HTML card with its tabs and plots."""


def card_fragment(page: str) -> str:
    """The card's own element out of a full HTML page, for embedding in a notebook's output, under a new
    id: the same card shown twice on one page (`run("train")`, later `inspect("train")`) must not share
    the radio group its tabs switch with, or only one of them would show a tab."""
    found = BODY.search(page)
    fragment = found.group(1) if found else page
    ids = set(CARD_ID.findall(fragment))
    for old in ids:
        fragment = fragment.replace(old, "card-" + uuid.uuid4().hex[:8])
    return fragment


@dataclass(frozen=True)
class OutputState:
    step: str
    output: str
    state: str
    when: str
    run_id: str = "-"
    why: str = ""  # why an output is STALE or FAILED, when known


def graph_svg(steps: Sequence[str], outputs: Mapping[str, Sequence[OutputState]]) -> str:
    """The recipe's steps left to right, each with its outputs coloured by state, drawn as SVG."""
    box_width, box_height, gap, step_gap, top = 190, 26, 6, 40, 34
    height = top + max(len(outputs[s]) for s in steps) * (box_height + gap) + 12
    width = len(steps) * (box_width + step_gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">']
    for index, step in enumerate(steps):
        x = 10 + index * (box_width + step_gap)
        parts.append(f'<text x="{x + box_width / 2}" y="18" text-anchor="middle" font-weight="bold">{html.escape(step)}</text>')
        if index:
            arrow_y = top + box_height / 2
            parts.append(f'<line x1="{x - step_gap + 4}" y1="{arrow_y}" x2="{x - 6}" y2="{arrow_y}" stroke="#555" marker-end="url(#arrow)"/>')
        for row, item in enumerate(outputs[step]):
            y = top + row * (box_height + gap)
            fill, border = STATE_COLORS.get(item.state, "#fff"), STATE_BORDERS.get(item.state, "#555")
            tip = f"{item.output}: {item.state}" + (f" ({item.why})" if item.why else "") + (f", last materialized {item.when}" if item.when != "-" else "")
            parts.append(
                f'<g><title>{html.escape(tip)}</title><rect x="{x}" y="{y}" width="{box_width}" height="{box_height}" rx="4" '
                f'fill="{fill}" stroke="{border}"/><text x="{x + 8}" y="{y + 17}">{html.escape(item.output)}</text>'
                f'<text x="{x + box_width - 8}" y="{y + 17}" text-anchor="end" font-size="10" fill="{border}">{item.state}</text></g>'
            )
    parts.insert(1, '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
                    '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>')
    parts.append("</svg>")
    return "".join(parts)


def graph_html(header: Sequence[str], steps: Sequence[str], outputs: Mapping[str, Sequence[OutputState]], next_run: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(o.step)}</td><td>{html.escape(o.output)}</td>"
        f"<td style='background:{STATE_COLORS.get(o.state, '#fff')}'>{o.state}</td><td>{html.escape(o.when)}</td>"
        f"<td>{html.escape(o.why)}</td></tr>"
        for step in steps for o in outputs[step]
    )
    style = "border-collapse:collapse;font-size:12px;font-family:sans-serif"
    return (
        f"<div class='recipe-graph'><pre>{html.escape(chr(10).join(header))}</pre>{graph_svg(steps, outputs)}"
        f"<table style='{style}' border='1' cellpadding='3'><tr><th>step</th><th>output</th><th>state</th>"
        f"<th>last materialized</th><th>why</th></tr>{rows}</table><p>{html.escape(next_run)}</p></div>"
    )


def run_result(summary, step: str | None, card: StepCard | None):
    """`summary` (a runner.RunSummary) with the card of the step the run went up to, for display."""
    from dataclasses import fields

    from recipe_assets.engine.runner import RunSummary

    @dataclass(repr=False)
    class RunResult(RunSummary):
        """What `Recipe.run` returns: the run's summary (which outputs ran, which were up to date, the
        Dagster run id) and, as its display, the card of the step it went up to."""

        step: str | None = None
        card: StepCard | None = None

        def __repr__(self) -> str:
            return self.headline() + ("\n\n" + str(self.card) if self.card else "")

        def headline(self) -> str:
            state = "succeeded" if self.success else f"FAILED: {self.error}"
            lines = [f"run {self.dagster_run_id or '(nothing to run)'} {state}"]
            lines.append(f"  materialized: {', '.join(self.materialized) or 'nothing'}")
            if self.up_to_date:
                lines.append(f"  up to date: {', '.join(self.up_to_date)}")
            return "\n".join(lines)

        def _repr_pretty_(self, printer, cycle) -> None:
            printer.text(repr(self))

        def _repr_html_(self) -> str:
            head = f"<pre>{html.escape(self.headline())}</pre>"
            return head + (self.card._repr_html_() if self.card else "")

    values = {f.name: getattr(summary, f.name) for f in fields(summary)}
    return RunResult(**values, step=step, card=card)
