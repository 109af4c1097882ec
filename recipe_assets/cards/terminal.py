"""The card in a terminal: `rich` tables for table entries, one line for each value, and where the
plots are (they live in the HTML card; a terminal cannot show them)."""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from recipe_assets.cards import layout
from recipe_assets.cards.html import entry_of

TERMINAL_WIDTH = 120


def render_text(title: str, metadata: Mapping[str, Any], card_layout: Sequence[tuple[str, Sequence[str]]] = (), card_path: str | None = None) -> str:
    """The card as text, grouped in the same tabs as the HTML card."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    # force_jupyter=False: inside a notebook kernel rich would display each print as its own output
    console = Console(
        file=buffer, width=TERMINAL_WIDTH, color_system=None, emoji=False, highlight=False, soft_wrap=False, force_jupyter=False, force_terminal=False
    )
    console.print(title, style="bold")
    console.print("=" * len(title))
    plots: list[str] = []
    for tab, labels in layout.tabs(card_layout, metadata):
        console.print(f"\n[{tab}]", markup=False)
        for label in labels:
            entry = entry_of(label, metadata[label])
            if entry.kind == "image":
                plots.append(entry.label)
                console.print(f"plot: {entry.label} (in the HTML card)", markup=False)
            elif entry.kind == "table":
                console.print(f"{entry.label}:", markup=False)
                table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
                for header, numeric in zip(entry.value.headers, entry.value.numeric):
                    table.add_column(header, justify="right" if numeric else "left", overflow="fold")
                for row in entry.value.rows:
                    table.add_row(*row)
                console.print(table)
            elif entry.kind == "text":
                console.print(f"{entry.label}:", markup=False)
                console.print(entry.value, markup=False)
            elif entry.label != "card":
                console.print(f"{entry.label}: {entry.value}", markup=False)
    if plots and card_path:
        console.print(f"\n{len(plots)} plot(s) in the HTML card: {card_path}", markup=False)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
