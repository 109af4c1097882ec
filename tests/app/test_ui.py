"""The Dagster web UI in a real headless Chromium: the recipe's graph, a materialization launched from the
UI, and the step card in the asset's page. Debian's chromium; Playwright only drives it."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from conftest import REPO
from recipe_assets.app.recipe import Recipe
from browser import sync_playwright
from servers import dagster_dev, mlflow_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-background-networking",  # the machine has no network: no background connections
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page(tmp_path: Path):
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install chromium (.ci/system-packages does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            yield page
        finally:
            page.screenshot(path=str(tmp_path / "last-page.png"))
            browser.close()


def skip_community_modal(page) -> None:
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=5000)
        skip.click()
    except Exception:  # the modal only shows on an instance's first visit
        return


def wait_for_run(home: Path, timeout: float = 240) -> DagsterRunStatus:
    deadline = time.monotonic() + timeout
    with DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs(RunsFilter(job_name="regression__model_development"))
            finished = [r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)]
            if finished:
                return finished[0].status
            time.sleep(1)
    raise TimeoutError("the run launched from the UI did not finish")


def test_materialize_from_the_ui_then_read_the_card_and_find_nothing_stale(regression_recipe: Path, tmp_path: Path, browser_page):
    home = regression_recipe / "metadata" / "dagster"
    home.mkdir(parents=True)
    env = {**os.environ, "RECIPE_ROOT": str(regression_recipe), "DAGSTER_HOME": str(home)}
    page = browser_page
    with dagster_dev(REPO, env, tmp_path) as url:
        page.goto(f"{url}/locations/recipe_assets/jobs/regression__model_development", wait_until="networkidle")
        skip_community_modal(page)
        page.get_by_text("View 10 assets").wait_for(state="visible", timeout=20000)
        for step_output in ("ingested_data", "training_data", "validation_data", "transformer"):  # the part on screen
            page.get_by_text(step_output, exact=True).first.wait_for(state="visible", timeout=20000)
        page.get_by_text("ingest → split → transform → train → evaluate → register").first.wait_for(state="visible")
        page.get_by_role("button", name="Materialize all").click()
        assert wait_for_run(home) == DagsterRunStatus.SUCCESS

        page.goto(f"{url}/assets/regression/model", wait_until="networkidle")
        skip_community_modal(page)
        for section in ("model performance", "model architecture", "worst predictions (validation)"):
            page.get_by_text(section).first.wait_for(state="visible", timeout=20000)

        page.goto(f"{url}/assets/regression/run?view=checks", wait_until="networkidle")
        # check names are drawn truncated in the UI: the full name is in the DOM, not necessarily on screen
        page.get_by_text("validation_root_mean_squared_error").first.wait_for(state="attached", timeout=20000)
        page.get_by_text("validation_weighted_mean_squared_error").first.wait_for(state="attached", timeout=20000)

    after_ui = Recipe(recipe_root=regression_recipe).run()
    assert after_ui.materialized == [], "what the UI materialized must be fresh for recipe-assets run"


SCREENSHOTS = os.environ.get("RECIPE_ASSETS_SCREENSHOTS") and str(Path(os.environ["RECIPE_ASSETS_SCREENSHOTS"]).resolve())  # keep pages for the README


def keep_screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=False)


def shown_images(page) -> list[dict]:
    """Images the browser actually decoded (naturalWidth > 0), with where their data came from."""
    return page.evaluate(
        "() => Array.from(document.images).map(i => ({alt: i.alt, src: i.src.slice(0, 30), width: i.naturalWidth,"
        " visible: i.getBoundingClientRect().width > 0}))"
    )


def test_the_run_asset_page_shows_the_evaluate_card_with_its_plots(regression_recipe: Path, tmp_path: Path, browser_page):
    """Dagster 1.13 draws table metadata inline and folds markdown behind "[Show Markdown]", which opens a
    dialog on the same page: the plots (markdown images from data URIs) are one click away."""
    home = regression_recipe / "metadata" / "dagster"
    Recipe(recipe_root=regression_recipe).run(quiet=True)
    env = {**os.environ, "RECIPE_ROOT": str(regression_recipe), "DAGSTER_HOME": str(home)}
    page = browser_page
    with dagster_dev(REPO, env, tmp_path) as url:
        page.goto(f"{url}/assets/regression/run", wait_until="networkidle")
        skip_community_modal(page)
        page.get_by_text("validation criteria").first.wait_for(state="visible", timeout=30000)
        page.get_by_text("plot: predicted vs actual (test)").first.wait_for(state="visible", timeout=30000)
        rows = page.locator("tr", has_text="plot: predicted vs actual (test)")
        rows.last.get_by_text("[Show Markdown]").click()
        page.locator("img[alt='predicted vs actual (test)']").wait_for(state="visible", timeout=20000)
        images = {image["alt"]: image for image in shown_images(page)}
        assert images["predicted vs actual (test)"]["width"] > 0, images
        assert images["predicted vs actual (test)"]["src"].startswith("data:image/png;base64"), images
        keep_screenshot(page, "dagster-run-asset-evaluate-plot.png")
        page.get_by_role("button", name="Close").click()
        page.get_by_text("validation criteria").first.scroll_into_view_if_needed()
        keep_screenshot(page, "dagster-run-asset-evaluate-card.png")


def test_the_mlflow_run_shows_the_train_card_with_its_tabs_and_plots(regression_recipe: Path, tmp_path: Path, browser_page):
    recipe = Recipe(recipe_root=regression_recipe)
    recipe.run(quiet=True)
    run = recipe.get_artifact("run")
    page = browser_page
    with mlflow_server(tmp_path, backend_store_uri=recipe.mlflow.tracking_uri) as url:
        # MLflow's UI keeps polling, so "networkidle" may never come; the waits below are for what a user sees
        page.goto(f"{url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}/artifacts/cards/train.html", wait_until="domcontentloaded", timeout=90000)
        card = page.frame_locator("iframe").first
        card.get_by_text("Leaderboard").first.wait_for(timeout=90000)
        card.locator("img[alt='predicted vs actual (validation)']").wait_for(state="visible", timeout=30000)
        widths = card.locator("img").evaluate_all("images => images.map(i => i.naturalWidth)")
        assert widths and all(w > 0 for w in widths)
        for step in ("ingest", "split", "transform", "evaluate", "register"):
            page.get_by_text(f"{step}.html", exact=True).first.wait_for(state="visible", timeout=30000)
        keep_screenshot(page, "mlflow-run-train-card.png")
        card.get_by_text("Leaderboard").first.click()  # the tabs switch inside MLflow's viewer (CSS only, no script)
        card.get_by_text("this run").first.wait_for(state="visible", timeout=10000)


def test_the_evaluate_card_shows_champion_vs_candidate_with_its_bootstrap_plot(regression_recipe: Path, browser_page, edit):
    """The HTML card (the same page MLflow shows as cards/evaluate.html) of a second model, compared with the first."""
    Recipe(recipe_root=regression_recipe).run(quiet=True)
    edit(regression_recipe / "steps" / "train.py", "random_state=42", "random_state=5")
    Recipe(recipe_root=regression_recipe).run(quiet=True)
    page = browser_page
    page.goto((regression_recipe / "metadata" / "outputs" / "cards" / "evaluate.html").as_uri())
    page.get_by_text("Champion vs candidate", exact=True).click()
    panel = page.locator("[data-tab='Champion vs candidate']")
    panel.get_by_text("champion metrics (test)").wait_for(state="visible", timeout=10000)
    assert "better: test root_mean_squared_error" in panel.inner_text()
    plot = panel.locator("img[alt='champion vs candidate: bootstrap of the difference']")
    plot.wait_for(state="visible", timeout=10000)
    assert plot.evaluate("i => i.naturalWidth") > 0
    keep_screenshot(page, "evaluate-card-champion-tab.png")
