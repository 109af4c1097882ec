"""Deliberate differences from MLflow Recipes 2.22.2: the only rows of the differential tables that may
differ. Each says why we differ and what a user migrating a recipe sees; the README's section
"Differences from MLflow Recipes 2.22" has one table row per entry, keyed by `key`, whose last column is
`allowed` word for word (test_harness_checks.py fails when the two disagree).

A row of a table is `listed` when its check equals `check`, its subject matches `subject` (fnmatch
pattern), the recipe dir is one of `dirs` (if given), and `allows(peer, ours)` accepts the row's two
values. Anything else that differs is a MISMATCH and fails the harness. Entries with `check=None` are differences the README lists that no
row of the corpus shows (an opt-in key of ours, or input on which the peer failed); they excuse nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Difference:
    key: str
    check: str | None
    subject: str
    reason: str
    user_sees: str
    dirs: tuple[str, ...] = ()
    # which (peer, ours) values the difference allows; a row whose values it does not allow is a MISMATCH.
    # Every entry of DELIBERATE has one (test_harness_checks.py asserts it); DOCUMENTED_ONLY entries excuse nothing.
    allows: Callable[[Any, Any], bool] | None = None
    allowed: str = "nothing: no row of the corpus shows it"  # the same, in words, for the table and the README


def exactly(peer_value: Any, our_value: Any) -> Callable[[Any, Any], bool]:
    """Only this one pair of values."""

    def pair(peer: Any, ours: Any) -> bool:
        return peer == peer_value and ours == our_value

    return pair


def fewer(peer: Any, ours: Any) -> bool:
    """Two row counts, ours below the peer's."""
    return isinstance(peer, int) and isinstance(ours, int) and 0 <= ours < peer


def within(bound: float) -> Callable[[Any, Any], bool]:
    def close(peer: Any, ours: Any) -> bool:
        try:
            return abs(float(peer) - float(ours)) <= bound
        except (TypeError, ValueError):
            return False

    return close


DELIBERATE: tuple[Difference, ...] = (
    Difference(
        key="model-is-the-pipeline",
        check="get_artifact type",
        subject="model",
        reason=(
            "get_artifact('model') returns the fitted scikit-learn Pipeline (transformer + estimator) loaded "
            "from MLflow, so predict, predict_proba, score and scikit-learn inspection work on it; MLflow Recipes "
            "returned a PyFuncModel wrapper"
        ),
        user_sees=(
            "predict() returns labels or values as an array, not a frame with predicted_label / predicted_score "
            "columns; mlflow.pyfunc.load_model(<model uri>) still gives the pyfunc"
        ),
        allows=exactly("mlflow.pyfunc.PyFuncModel", "sklearn.pipeline.Pipeline"),
        allowed="peer mlflow.pyfunc.PyFuncModel, ours sklearn.pipeline.Pipeline (qualified type names)",
    ),
    Difference(
        key="filter-on-every-split",
        check="split membership (filter)",
        subject="*",
        reason=(
            "post_split_filter_method is applied to the training, validation and test splits, as the templates' "
            "own docstring says it is; MLflow Recipes 2.22 applied it to the training split only "
            "(mlflow/recipes/steps/split.py: `train_df = train_df[post_split_filter(train_df)]`)"
        ),
        user_sees="validation and test metrics leave out the rows the filter rejects; the split card counts them",
        # the harness emits this check only for the validation or test split, and only when our rows are, row
        # by row (multiset), the peer's rows of that split that the recipe's filter keeps
        allows=fewer,
        allowed=(
            "validation or test split only; ours = exactly the peer's rows of that split the filter keeps (row "
            "multiset), fewer than the peer's. Then: that split's metrics = the peer's model evaluated by MLflow "
            "2.22 on those rows (RTOL/ATOL), table rows = that count, rows removed = the peer's + the rejected ones"
        ),
    ),
    Difference(
        key="multiclass-f1-macro-micro",
        check="metric names",
        subject="*_f1_score_m[ai]c[r]o (ours only)",
        reason=(
            "multiclass runs also log f1_score_macro (a true macro F1) and f1_score_micro, the names MLflow "
            "Recipes 2.22 used for multiclass primary metrics and validation criteria (its default primary "
            "metric is f1_score_macro) but never logged: it mapped those names onto the weighted f1_score "
            "(mlflow/recipes/utils/metrics.py transform_multiclass_metric); the weighted f1_score is logged "
            "under its own name as there"
        ),
        user_sees=(
            "two more metrics per dataset in MLflow; a criterion or primary metric on f1_score_macro compares "
            "the true macro F1 (usually lower than the weighted F1 the peer used under that name)"
        ),
        dirs=("multiclass_strings",),  # the corpus's one multiclass dir: a binary dir logging them is a MISMATCH
        allows=exactly("absent", "logged"),
        allowed=(
            "the names only: peer absent, ours logged, multiclass dir only; the values are compared: f1_score_micro "
            "= the peer's accuracy_score, test_f1_score_macro = macro F1 of the peer's test predictions"
        ),
    ),
    Difference(
        key="data-versions-not-step-cache",
        check="rerun changed data",
        subject="steps that ran",
        reason=(
            "a changed data file re-runs ingest and everything downstream (Dagster data versions); MLflow "
            "Recipes 2.22's step cache did not see the change and kept serving the model trained on the old data"
        ),
        user_sees="new data gives a new model on the next run; no `clean` needed",
        allows=exactly([], ["ingest", "split", "transform", "train", "evaluate", "register"]),
        allowed="peer ran no step, ours ran ingest, split, transform, train, evaluate, register (in that order)",
    ),
    Difference(
        key="sparse-transformer-output",
        check="run",
        subject="outcome",
        dirs=("sparse_transformer",),
        reason=(
            "a transformer that returns a scipy sparse matrix works: its output is stored as a dense frame; "
            "MLflow Recipes 2.22 failed at transform (`pd.DataFrame(<sparse matrix>)` raises ValueError)"
        ),
        user_sees="the recipe runs instead of failing at transform",
        allows=exactly("failed at transform", "ok"),
        allowed=(
            "peer `failed at transform`, ours `ok`; then our model is checked alone: a sklearn Pipeline, finite "
            "predictions, the evaluator's metrics (test values from its predictions), registration by the criteria"
        ),
    ),
    Difference(
        key="isotonic-rank-metric-ties",
        check="metric values",
        subject="*_[rp][or]*_auc",  # roc_auc, precision_recall_auc
        dirs=("binary_rebalanced",),
        allows=within(1e-3),
        allowed="abs(peer - ours) <= 1e-3, for roc_auc and precision_recall_auc of binary_rebalanced only",
        reason=(
            "calibrate_proba: isotonic predicts a step function: hundreds of rows share a score plateau. The two "
            "systems' probabilities agree to ~3e-15 (class scores row), but a last-bit difference splits or merges "
            "a tie, and a rank metric counts a tied positive/negative pair as 1/2 and a split one as 0 or 1. The "
            "peer's own model on its own rows gives training ROC AUC 0.871510 on a column-major array and 0.871426 "
            "on a row-major one; log loss, counts and every threshold metric still agree within RTOL"
        ),
        user_sees="nothing: the AUCs of an isotonic-calibrated model differ in the fourth digit at most",
    ),
)

DOCUMENTED_ONLY: tuple[Difference, ...] = (
    Difference(
        key="seeded-rebalancing",
        check=None,
        subject="",
        reason=(
            "when a binary training set is down-sampled (over 5,000 rows, minority share below "
            "resampling_minority_percentage), the majority rows are sampled and all rows shuffled by MLflow "
            "Recipes' rule, with a fixed seed (42); MLflow Recipes 2.22 drew both samples without a seed "
            "(steps/train.py _rebalance_classes), so its model changed from run to run. The harness seeds the "
            "peer's two samples alike (peer_site/sitecustomize.py): both then keep the same rows in the same order"
        ),
        user_sees="the same counts, class weights and rows as a seeded peer; a re-run gives the same model",
    ),
    Difference(
        key="class-weight-label-codes",
        check=None,
        subject="",
        reason=(
            "with rebalancing, class_weight is keyed by the label codes the estimator is fitted on; MLflow Recipes "
            "keyed it by the labels while fitting on codes (steps/train.py _label_encoded_fitted_estimator), so "
            "string-labelled binary data over 5,000 rows failed at train unless calibrate_proba was set (the "
            "calibrated path fits on the labels themselves: binary_rebalanced runs on both)"
        ),
        user_sees="string-labelled binary recipes over 5,000 rows train instead of failing",
    ),
    Difference(
        key="split-stratify-exact",
        check=None,
        subject="",
        reason="steps.split.stratify: exact (ours, opt-in) cuts every class at exactly the ratios; the default is the peer's split",
        user_sees="nothing unless the key is set",
    ),
    Difference(
        key="tiny-splits",
        check=None,
        subject="",
        reason="splits under 4 rows are allowed (only an empty split is refused); MLflow Recipes refused them",
        user_sees="tiny recipes (tests, demos) run",
    ),
    Difference(
        key="custom-metrics-in-evaluate",
        check=None,
        subject="",
        reason="custom metrics are computed in evaluate (training ones on the predictions train stored), under the same names",
        user_sees="editing steps/custom_metrics.py re-runs only evaluate and register",
    ),
    Difference(
        key="on-label-aliases",
        check=None,
        subject="",
        reason="sum_on_label / mean_on_label (the docs' names) are accepted in a recipe and logged as *_on_target, as the evaluator logged them",
        user_sees="nothing to rename",
    ),
    Difference(
        key="transformer-gets-its-own-frame",
        check=None,
        subject="",
        reason=(
            "each call of the fitted transformer gets its own copy of the frame; MLflow Recipes 2.22 passed one "
            "frame to predict and then predict_proba, so a classification transformer that changes its input "
            "in place failed at train"
        ),
        user_sees="the recipe runs",
    ),
    Difference(
        key="profile-overrides-recipe-key",
        check=None,
        subject="",
        reason=(
            "a key set both in recipe.yaml and the profile takes the profile's value, as the recipe format "
            "documents; MLflow Recipes 2.22 refused it (\"two merging dictionaries contain duplicate keys\"), so "
            "the harness runs dropin_fixture without its recipe-level `experiment:` block"
        ),
        user_sees="a recipe 2.22 refused runs",
    ),
    Difference(
        key="multiclass-f1-score-name",
        check=None,
        subject="",
        reason="`f1_score` may name a multiclass metric (the weighted F1, as 2.22's evaluator logged it); 2.22 knew only f1_score_macro / _micro there",
        user_sees="a multiclass recipe may name f1_score in primary_metric or validation_criteria",
    ),
    Difference(
        key="sql-without-spark",
        check=None,
        subject="",
        reason="`using: spark_sql` / `table` run DataFusion SQL, without a JVM; MLflow Recipes 2.22 ran Spark SQL on a Spark session",
        user_sees="recipes that needed Spark run on a laptop; a query using Spark-only functions needs rewriting",
    ),
    Difference(
        key="table-locations",
        check=None,
        subject="",
        reason="`using: table` finds a table through `tables:` (ours) or spark-warehouse/<table>; MLflow Recipes 2.22 used Spark's catalog",
        user_sees="name the files a table lives in once",
    ),
)


def find_listed(check: str, subject: str, dir_name: str, peer: Any = None, ours: Any = None) -> Difference | None:
    """The deliberate difference that covers this row and allows these values, if any."""
    for difference in DELIBERATE:
        if difference.check is None or difference.check != check or not fnmatchcase(subject, difference.subject):
            continue
        if difference.dirs and dir_name not in difference.dirs:
            continue
        if difference.allows is not None and not difference.allows(peer, ours):
            continue
        return difference
    return None
