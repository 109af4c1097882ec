"""Notebooks are a tested path: MLflow's own example notebooks (import changed to recipe_assets) and the
notebook each bundled template ships run top to bottom in a real ipykernel, and every `run` / `inspect`
cell shows the step's HTML card with the step's sections."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from browser import sync_playwright
from conftest import PUBLISHED_EXAMPLES, REPO, shared
from recipe_assets.app.recipe import create_recipe

pytestmark = pytest.mark.slow

EXAMPLES = PUBLISHED_EXAMPLES
SCREENSHOTS = os.environ.get("RECIPE_ASSETS_SCREENSHOTS") and str(Path(os.environ["RECIPE_ASSETS_SCREENSHOTS"]).resolve())  # keep a notebook screenshot
STEP_CELL = re.compile(r"""^r\.(run|inspect)\(["'](\w+)["']\)\s*$""")
# what each step's card must show in the notebook: tabs, sections, and a plot where the step draws one
EXPECTED = {
    "ingest": ["Data Profile", "Data Schema", "Data Preview", "Run Summary", "data:image/svg+xml"],
    "split": ["Split Summary", "Compare Splits", "split sizes", "Run Summary"],
    "transform": ["Transformer", "Input Schema", "Output Schema", "Run Summary"],
    "train": ["Model Performance", "model performance", "Worst Predictions", "worst predictions (validation)", "Leaderboard",
              "Best Parameters", "Run Summary", "data:image/png"],
    "evaluate": ["Model Validation", "validation criteria", "Model Performance (Test)", "Run Summary", "data:image/png"],
    "register": ["Registered Model", "model name", "Run Summary"],
    "predict": ["Scored Data", "Run Summary"],
    "feature_report": ["Custom Step", "per feature", "metrics", "Run Summary", "data:image/png"],  # the templates' custom step
}
STATE_ROW = re.compile(r"^\s+(\w+)\s+(\w+)\s+(FRESH|STALE|MISSING|FAILED)\b", re.MULTILINE)


def execute(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        nbformat.write(notebook, path.with_suffix(".executed.ipynb"))
    return notebook


def result_of(cell) -> dict:
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, f"{cell.source!r}: expected one result, got {[o.output_type for o in cell.outputs]}"
    return results[0]["data"]


def check_cards(notebook: nbformat.NotebookNode) -> list[str]:
    """Every `r.run(step)` / `r.inspect(step)` cell shows its step's card once, with its sections."""
    checked = []
    for cell in notebook.cells:
        found = STEP_CELL.match(cell.source.strip()) if cell.cell_type == "code" else None
        if not found:
            continue
        step = found.group(2)
        shown = result_of(cell)
        page = shown["text/html"]
        assert page.count('class="recipe-card"') == 1, f"{cell.source}: the card is shown once"
        missing = [section for section in EXPECTED[step] if section not in page]
        assert not missing, f"{cell.source}: the card lacks {missing}"
        assert not [o for o in cell.outputs if o.output_type == "display_data"], f"{cell.source}: displayed more than its card"
        checked.append(cell.source.strip())
    return checked


def check_graph_all_fresh(cell, steps: list[str]) -> None:
    shown = result_of(cell)
    states = {(m.group(1), m.group(2)): m.group(3) for m in STATE_ROW.finditer(shown["text/plain"])}
    ran = {key: state for key, state in states.items() if key[0] in steps}
    assert {step for step, _ in ran} == set(steps), states
    assert set(ran.values()) == {"FRESH"}, states
    assert "<svg" in shown["text/html"] and shown["text/html"].count(">FRESH<") >= len(ran)


def example_copy(name: str, tmp_path: Path) -> Path:
    """MLflow's example recipe with its notebook's one import line changed, plus a last `r.inspect()`."""
    root = Path(shutil.copytree(shared(EXAMPLES / name), tmp_path / name, ignore=shutil.ignore_patterns("metadata", "__pycache__")))
    path = root / "notebooks" / "jupyter.ipynb"
    notebook = nbformat.read(path, as_version=4)
    imports = [c for c in notebook.cells if "from mlflow.recipes import Recipe" in c.source]
    assert len(imports) == 1
    imports[0].source = imports[0].source.replace("from mlflow.recipes import Recipe", "from recipe_assets import Recipe")
    notebook.cells.append(nbformat.v4.new_code_cell("r.inspect()"))
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("name", ["regression", "classification"])
def test_mlflow_example_notebook_runs_and_shows_every_card(name: str, tmp_path: Path):
    notebook = execute(example_copy(name, tmp_path))
    checked = check_cards(notebook)
    steps = ["ingest", "split", "transform", "train", "evaluate", "register"]
    assert checked == [f'r.run("{s}")' for s in steps] + ['r.inspect("train")']
    first_inspect = next(c for c in notebook.cells if c.source.strip() == "r.inspect()")
    assert "MISSING" in result_of(first_inspect)["text/plain"]  # after r.clean()
    check_graph_all_fresh(notebook.cells[-1], steps)


@pytest.mark.parametrize("template", ["regression", "classification"])
def test_template_notebook_develops_a_model_then_scores_a_batch(template: str, tmp_path: Path):
    root = create_recipe(tmp_path / template, template)
    notebook = execute(root / "notebooks" / "recipe.ipynb")
    checked = check_cards(notebook)
    steps = ["ingest", "split", "transform", "train", "evaluate", "register"]
    assert checked == [f'r.run("{s}")' for s in steps] + ['r.run("feature_report")', 'r.inspect("train")', 'r.run("predict")']
    custom = next(c for c in notebook.cells if c.source.strip() == 'r.run("feature_report")')
    assert "Custom Step" in result_of(custom)["text/html"] and ("mean_absolute_error" if template == "regression" else "error_rate") in result_of(custom)["text/html"]
    scored = next(c for c in notebook.cells if "scored.head()" in c.source)
    assert "prediction" in result_of(scored)["text/html"]
    check_graph_all_fresh(notebook.cells[-1], steps + ["ingest_scoring", "predict"])
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "dagster dev" in markdown and "[Show Markdown]" in markdown
    if SCREENSHOTS:
        screenshot_train_cell(notebook, Path(SCREENSHOTS) / f"notebook-{template}-train-card.png", tmp_path)


def screenshot_train_cell(notebook: nbformat.NotebookNode, target: Path, workdir: Path) -> None:
    """The executed notebook exported to HTML by nbconvert, the `r.run("train")` cell shot in Chromium."""
    from nbconvert import HTMLExporter

    page_file = workdir / "notebook.html"
    page_file.write_text(HTMLExporter().from_notebook_node(notebook)[0], encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(page_file.as_uri(), wait_until="load")
        cell = page.locator(".jp-Cell", has_text='r.run("train")').first
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(target))
        browser.close()
