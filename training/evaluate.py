"""A model measured on labelled declarations: numbers, plots and a one-file HTML report.

Item scores are judged as the model's thresholds were chosen: on item lines, with the
false-alarm rate counted on benign items. The share inspected is counted on parcels too,
because officers open parcels, not lines. The report embeds its plots, so it can be
mailed or opened on a machine without network access.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from training.files import replacing
from training.labelled import usable_labelled_rows
from training.metrics import FPR_POINTS, risk_metrics
from training.model import columns_of, parcel_scores
from training.schema import LABEL_CLASSES

TOP_SHARES_TABLE: Final = (0.005, 0.01, 0.02, 0.05, 0.10, 0.20)
FIXED_CUTS: Final = (0.1, 0.25, 0.5, 0.75, 0.9)
EXAMPLES: Final = 15
LANES: Final = 15
PLOTS: Final = ("pr_curve", "roc_curve", "reliability", "score_histograms")
_CLASS_COLOURS: Final = {
    "benign": "#4c72b0",
    "body_armor": "#c44e52",
    "helmet": "#dd8452",
    "tactical_apparel": "#8172b3",
    "optics_sensors": "#55a868",
    "unknown_gear": "#937860",
}


@dataclass
class Evaluation:
    """Everything the report shows, computed once."""

    model_version: str
    data_name: str
    skipped: dict[str, int]
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    scored: pd.DataFrame  # usable rows with label, label_class, risk_score, parcel score
    threshold_rows: list[dict[str, Any]]
    class_rows: list[dict[str, Any]]
    lane_rows: list[dict[str, Any]]
    missed: list[dict[str, Any]]
    false_alarms: list[dict[str, Any]]


def _rates(scored: pd.DataFrame, cut: float) -> dict[str, float]:
    label = scored["label"].to_numpy(dtype=int)
    flagged = scored["risk_score"].to_numpy() >= cut
    parcel_flagged = scored.assign(flag=scored["parcel_risk_score"].to_numpy() >= cut)
    parcels = parcel_flagged.groupby("declaration_id", sort=False)["flag"].first()
    positives = label == 1
    benign = label == 0
    return {
        "items_inspected": float(flagged.mean()) if len(flagged) else float("nan"),
        "parcels_inspected": float(parcels.mean()) if len(parcels) else float("nan"),
        "recall": float(flagged[positives].mean()) if positives.any() else float("nan"),
        "false_alarm_rate": float(flagged[benign].mean()) if benign.any() else float("nan"),
        "precision": float(label[flagged].mean()) if flagged.any() else float("nan"),
    }


def threshold_table(scored: pd.DataFrame, thresholds: dict[str, float]) -> list[dict[str, Any]]:
    """Share inspected vs recall and false alarms at the model's and other cut-offs."""
    cuts: list[tuple[str, float]] = [
        ("review (model)", float(thresholds["review"])),
        ("inspect (model)", float(thresholds["inspect"])),
    ]
    scores = np.sort(scored["risk_score"].to_numpy())[::-1]
    for share in TOP_SHARES_TABLE:
        if len(scores):
            k = max(1, round(share * len(scores)))
            cuts.append((f"top {share:.1%} of items", float(scores[k - 1])))
    cuts.extend((f"score {cut:g}", cut) for cut in FIXED_CUTS)
    rows = [{"cut_off": name, "threshold": cut, **_rates(scored, cut)} for name, cut in cuts]
    return rows


def class_table(
    scored: pd.DataFrame, metrics: dict[str, Any], review: float
) -> list[dict[str, Any]]:
    rows = []
    per_class = metrics.get("per_class", {})
    for name in (*LABEL_CLASSES, "unknown_gear"):
        mask = scored["label_class"].to_numpy() == name
        if not mask.any():
            continue
        part = scored[mask]
        rows.append(
            {
                "class": name,
                "items": int(mask.sum()),
                "mean_score": float(part["risk_score"].mean()),
                "flagged_at_review": float((part["risk_score"] >= review).mean()),
                "recall_at_5pct_fpr": per_class.get(name, {}).get("recall_at_5pct_fpr"),
                "class_accuracy": per_class.get(name, {}).get("class_accuracy"),
            }
        )
    return rows


def lane_table(scored: pd.DataFrame, review: float) -> list[dict[str, Any]]:
    lanes = (
        scored["origin_country"].fillna("?").astype(str)
        + "→"
        + scored["destination_country"].fillna("?").astype(str)
    )
    frame = scored.assign(
        lane=lanes.to_numpy(),
        flagged=(scored["risk_score"] >= review).to_numpy(),
        positive=scored["label"].to_numpy(dtype=int) == 1,
    )
    rows: list[dict[str, Any]] = []
    for lane, part in frame.groupby("lane", sort=False):
        positives = part["positive"].to_numpy()
        flagged = part["flagged"].to_numpy()
        rows.append(
            {
                "lane": str(lane),
                "items": len(part),
                "positives": int(positives.sum()),
                "mean_score": float(part["risk_score"].mean()),
                "recall_at_review": float(flagged[positives].mean()) if positives.any() else None,
                "false_alarm_rate_at_review": float(flagged[~positives].mean())
                if (~positives).any()
                else None,
            }
        )
    rows.sort(key=lambda row: -float(row["items"]))
    return rows[:LANES]


def _examples(scorer: Any, scored: pd.DataFrame, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The given rows with the reasons the scorer gives them (as an officer would see)."""
    if rows.empty:
        return []
    reasons = scorer.score_frame(rows)["reasons"].to_numpy()
    scores = scored.loc[rows.index, "risk_score"].to_numpy(dtype=float)
    out = []
    for position, (_, row) in enumerate(rows.iterrows()):
        entries = reasons[position] or []
        out.append(
            {
                "declaration_id": row["declaration_id"],
                "description": row["description"],
                "label_class": row["label_class"],
                "risk_score": float(scores[position]),
                "lane": f"{row['origin_country'] or '?'}→{row['destination_country'] or '?'}",
                "reasons": "; ".join(f"{r['code']}: {r['message']}" for r in entries) or "-",
            }
        )
    return out


def evaluate(scorer: Any, frame: pd.DataFrame, data_name: str) -> Evaluation:
    """Score labelled rows with a `service.scorer.Scorer` and measure it every way."""
    usable, skipped = usable_labelled_rows(frame)
    if usable.empty:
        raise ValueError(f"{data_name}: no labelled rows that can be scored")
    scores = scorer.model.score_together(columns_of(usable))
    scored = usable.assign(
        risk_score=scores.risk_score,
        risk_class=scores.risk_class,
        parcel_risk_score=parcel_scores(usable["declaration_id"].to_numpy(), scores.risk_score),
    )
    label = scored["label"].to_numpy(dtype=int)
    metrics = risk_metrics(
        label,
        scores.risk_score,
        scored["label_class"].to_numpy(),
        scores.risk_class,
    )
    thresholds = {"review": scorer.review_threshold, "inspect": scorer.inspect_threshold}
    review = thresholds["review"]
    positives = scored[label == 1]
    missed_rows = positives[positives["risk_score"] < review].nsmallest(EXAMPLES, "risk_score")
    benign = scored[label == 0]
    alarm_rows = benign[benign["risk_score"] >= review].nlargest(EXAMPLES, "risk_score")
    return Evaluation(
        model_version=scorer.model_version,
        data_name=data_name,
        skipped=skipped,
        thresholds=thresholds,
        metrics=metrics,
        scored=scored,
        threshold_rows=threshold_table(scored, thresholds),
        class_rows=class_table(scored, metrics, review),
        lane_rows=lane_table(scored, review),
        missed=_examples(scorer, scored, usable.loc[missed_rows.index]),
        false_alarms=_examples(scorer, scored, usable.loc[alarm_rows.index]),
    )


# --- plots ---------------------------------------------------------------------------------


def _figure() -> tuple[Figure, Any]:
    figure, axes = plt.subplots(figsize=(6.4, 4.6), dpi=100)
    return figure, axes


def pr_plot(evaluation: Evaluation) -> Figure:
    label = evaluation.scored["label"].to_numpy(dtype=int)
    score = evaluation.scored["risk_score"].to_numpy()
    figure, axes = _figure()
    if 0 < label.sum() < len(label):
        precision, recall, _ = precision_recall_curve(label, score)
        axes.plot(recall, precision, color="#4c72b0", lw=2, label="model")
        axes.axhline(label.mean(), color="grey", ls="--", lw=1, label="inspecting at random")
    for name, colour in (("review", "#dd8452"), ("inspect", "#c44e52")):
        rates = _rates(evaluation.scored, evaluation.thresholds[name])
        if np.isfinite(rates["precision"]):
            axes.scatter(
                [rates["recall"]],
                [rates["precision"]],
                color=colour,
                zorder=3,
                label=f"{name} threshold",
            )
    axes.set(
        xlabel="recall (share of gear items caught)",
        ylabel="precision (share of flagged items that are gear)",
        xlim=(0, 1.01),
        ylim=(0, 1.02),
        title=f"Precision-recall, AP {evaluation.metrics.get('average_precision', np.nan):.3f}",
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    return figure


def roc_plot(evaluation: Evaluation) -> Figure:
    label = evaluation.scored["label"].to_numpy(dtype=int)
    score = evaluation.scored["risk_score"].to_numpy()
    figure, axes = _figure()
    if 0 < label.sum() < len(label):
        fpr, tpr, _ = roc_curve(label, score)
        axes.plot(np.maximum(fpr, 1e-4), tpr, color="#4c72b0", lw=2, label="model")
    for point in FPR_POINTS:
        value = evaluation.metrics.get(f"recall_at_{round(point * 100)}pct_fpr")
        if value is not None and np.isfinite(value):
            axes.scatter([point], [value], color="#c44e52", zorder=3)
            axes.annotate(
                f"{value:.2f} at {point:.0%}",
                (point, value),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=8,
            )
    axes.axvspan(1e-4, 0.05, color="#dd8452", alpha=0.08, label="false-alarm rates in use")
    axes.set_xscale("log")
    axes.set(
        xlabel="false-alarm rate on benign items (log scale)",
        ylabel="recall on gear items",
        xlim=(1e-3, 1),
        ylim=(0, 1.02),
        title=f"ROC, AUC {evaluation.metrics.get('roc_auc', float('nan')):.3f}",
    )
    axes.grid(alpha=0.3, which="both")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def reliability_plot(evaluation: Evaluation) -> Figure:
    table = evaluation.metrics.get("reliability", [])
    figure, axes = _figure()
    axes.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfectly calibrated")
    if table:
        mean = [row["mean_score"] for row in table]
        observed = [row["observed_rate"] for row in table]
        items = np.array([row["items"] for row in table], dtype=float)
        sizes = 20 + 300 * items / items.max()
        axes.plot(mean, observed, color="#4c72b0", lw=1.5)
        axes.scatter(
            mean, observed, s=sizes, color="#4c72b0", alpha=0.7, label="model (dot = items)"
        )
    axes.set(
        xlabel="mean risk score in the bin",
        ylabel="observed share of gear",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"Reliability, Brier {evaluation.metrics.get('brier', float('nan')):.3f}",
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure


def histogram_plot(evaluation: Evaluation) -> Figure:
    scored = evaluation.scored
    figure, axes = _figure()
    bins = np.linspace(0, 1, 41)
    for name in (*LABEL_CLASSES, "unknown_gear"):
        values = scored.loc[scored["label_class"] == name, "risk_score"].to_numpy()
        if len(values):
            axes.hist(
                values,
                bins=bins,
                histtype="step",
                lw=2 if name == "benign" else 1.5,
                color=_CLASS_COLOURS[name],
                label=f"{name} ({len(values)})",
            )
    for name, style in (("review", "--"), ("inspect", ":")):
        axes.axvline(evaluation.thresholds[name], color="black", ls=style, lw=1, label=name)
    axes.set_yscale("log")
    axes.set(
        xlabel="item risk score",
        ylabel="items (log scale)",
        xlim=(0, 1),
        title="Risk scores by true class",
    )
    axes.legend(fontsize=8, loc="upper center")
    figure.tight_layout()
    return figure


def figures(evaluation: Evaluation) -> dict[str, Figure]:
    return {
        "pr_curve": pr_plot(evaluation),
        "roc_curve": roc_plot(evaluation),
        "reliability": reliability_plot(evaluation),
        "score_histograms": histogram_plot(evaluation),
    }


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


# --- the HTML report -------------------------------------------------------------------------

_CSS: Final = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tr.model td { background: #fff6e5; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots img { width: 520px; max-width: 100%; border: 1px solid #eee; }
.note { color: #555; font-size: .9em; max-width: 60em; }
"""

_EXPLAIN: Final = {
    "roc_auc": "chance a random gear item scores above a random benign one",
    "average_precision": "area under the precision-recall curve",
    "recall_at_1pct_fpr": "gear caught when 1% of benign items are flagged",
    "recall_at_2pct_fpr": "gear caught when 2% of benign items are flagged (promotion gate)",
    "recall_at_5pct_fpr": "gear caught when 5% of benign items are flagged",
    "precision_top_1pct": "share of gear among the 1% highest-scored items",
    "precision_top_2pct": "share of gear among the 2% highest-scored items",
    "precision_top_5pct": "share of gear among the 5% highest-scored items",
    "recall_top_1pct": "gear caught by inspecting the 1% highest-scored items",
    "recall_top_2pct": "gear caught by inspecting the 2% highest-scored items",
    "recall_top_5pct": "gear caught by inspecting the 5% highest-scored items",
    "brier": "mean squared error of the score as a probability (lower is better)",
}


def _fmt(value: Any, share: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "-"
        return f"{value:.1%}" if share else f"{value:.3f}"
    return html.escape(str(value))


def _table(
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str]],
    shares: frozenset[str] = frozenset(),
    text: frozenset[str] = frozenset(),
    highlight: str | None = None,
) -> str:
    head = "".join(
        f"<th class='{'text' if key in text else ''}'>{html.escape(title)}</th>"
        for key, title in columns
    )
    body = []
    for row in rows:
        marked = highlight is not None and "(model)" in str(row.get(highlight, ""))
        cells = "".join(
            f"<td class='{'text' if key in text else ''}'>{_fmt(row.get(key), key in shares)}</td>"
            for key, _ in columns
        )
        body.append(f"<tr class='{'model' if marked else ''}'>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def headline_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"metric": name, "value": metrics[name], "meaning": meaning}
        for name, meaning in _EXPLAIN.items()
        if name in metrics
    ]


def render_html(evaluation: Evaluation, pngs: dict[str, bytes]) -> str:
    metrics = evaluation.metrics
    images = "".join(
        f"<img alt='{name.replace('_', ' ')}' "
        f"src='data:image/png;base64,{base64.b64encode(data).decode('ascii')}'>"
        for name, data in pngs.items()
    )
    skipped = ", ".join(f"{n} ({why})" for why, n in evaluation.skipped.items()) or "none"
    examples = [
        ("declaration_id", "declaration"),
        ("description", "description"),
        ("label_class", "true class"),
        ("lane", "lane"),
        ("risk_score", "score"),
        ("reasons", "reasons given"),
    ]
    example_text = frozenset({"declaration_id", "description", "label_class", "lane", "reasons"})
    sections = [
        f"<h1>Model {html.escape(evaluation.model_version)} on "
        f"{html.escape(evaluation.data_name)}</h1>",
        f"<p>{metrics['items']:,} labelled items ({metrics['positives']:,} gear) in "
        f"{evaluation.scored['declaration_id'].nunique():,} parcels. Rows skipped: "
        f"{html.escape(skipped)}. Thresholds: review {evaluation.thresholds['review']:.3f}, "
        f"inspect {evaluation.thresholds['inspect']:.3f}.</p>",
        "<h2>Headline</h2>",
        _table(
            headline_rows(metrics),
            [("metric", "metric"), ("value", "value"), ("meaning", "what it says")],
            text=frozenset({"metric", "meaning"}),
        ),
        "<h2>Plots</h2>",
        f"<div class='plots'>{images}</div>",
        "<h2>Cut-offs: how much is inspected, what is caught</h2>",
        "<p class='note'>Items at or above the cut-off are flagged. A parcel is flagged when "
        "its riskiest item is. False-alarm rate: share of benign items flagged. Rows in "
        "colour are the thresholds stored with the model.</p>",
        _table(
            evaluation.threshold_rows,
            [
                ("cut_off", "cut-off"),
                ("threshold", "score"),
                ("items_inspected", "items flagged"),
                ("parcels_inspected", "parcels flagged"),
                ("recall", "gear caught"),
                ("false_alarm_rate", "false-alarm rate"),
                ("precision", "flagged that are gear"),
            ],
            shares=frozenset(
                {"items_inspected", "parcels_inspected", "recall", "false_alarm_rate", "precision"}
            ),
            text=frozenset({"cut_off"}),
            highlight="cut_off",
        ),
        "<h2>By class</h2>",
        _table(
            evaluation.class_rows,
            [
                ("class", "true class"),
                ("items", "items"),
                ("mean_score", "mean score"),
                ("flagged_at_review", "flagged at review"),
                ("recall_at_5pct_fpr", "caught at 5% false alarms"),
                ("class_accuracy", "class named right"),
            ],
            shares=frozenset({"flagged_at_review", "recall_at_5pct_fpr", "class_accuracy"}),
            text=frozenset({"class"}),
        ),
        "<h2>By lane (busiest)</h2>",
        _table(
            evaluation.lane_rows,
            [
                ("lane", "lane"),
                ("items", "items"),
                ("positives", "gear items"),
                ("mean_score", "mean score"),
                ("recall_at_review", "gear caught at review"),
                ("false_alarm_rate_at_review", "false alarms at review"),
            ],
            shares=frozenset({"recall_at_review", "false_alarm_rate_at_review"}),
            text=frozenset({"lane"}),
        ),
        "<h2>Calibration</h2>",
        _table(
            metrics.get("reliability", []),
            [
                ("bin", "score bin"),
                ("items", "items"),
                ("mean_score", "mean score"),
                ("observed_rate", "observed gear share"),
            ],
            text=frozenset({"bin"}),
        ),
        "<h2>Gear missed (scored below review, lowest first)</h2>",
        _table(evaluation.missed, examples, text=example_text)
        if evaluation.missed
        else "<p>None: every gear item reached the review threshold.</p>",
        "<h2>False alarms (benign at or above review, highest first)</h2>",
        _table(evaluation.false_alarms, examples, text=example_text)
        if evaluation.false_alarms
        else "<p>None.</p>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>parcel-screen: model {html.escape(evaluation.model_version)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>\n"
    )


def write_report(evaluation: Evaluation, directory: Path) -> Path:
    """`report.html` (plots embedded) and the plots as PNGs; returns the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    pngs = {name: png_bytes(figure) for name, figure in figures(evaluation).items()}
    for name, data in pngs.items():
        with replacing(directory / f"{name}.png") as tmp:
            tmp.write_bytes(data)
    report = directory / "report.html"
    with replacing(report) as tmp:
        tmp.write_text(render_html(evaluation, pngs), encoding="utf-8")
    return report
