"""Features of a declaration item, the way an officer reads the form.

Three steps of one scikit-learn `Pipeline` (`feature_pipeline`), each `fit(X, y)` and
`transform(X)` with named outputs:

- `TextSignals` reads the description alone: how much it sounds like each kind of gear,
  what such goods normally weigh per unit and cost per kg (learned on benign items only),
  and which HS chapter they normally fall under. It is computed once per *distinct*
  description and cached, because real traffic repeats "clothes" and "одежда" endlessly.
- `FormFeatures` sets the rest of the form against those expectations: the residual of the
  declared weight and value, whether the HS code fits, category, mail class, lane and the
  parcel around the item. It reads the items with their signals (`ItemSignals`, the text
  step's output) and hands its matrix on as a DataFrame, so the next step knows its columns.
- `FlooredScaler` standardises the features as `StandardScaler` does, with the spread of
  one-hot columns floored (`RARE_INDICATOR_SPREAD`).

Inputs are *item columns*: any mapping from contract field to an array-like, i.e. a
normalised frame or the plain lists of one JSON declaration (so one declaration does not pay
for a DataFrame).

One job a module:

- `columns`: item columns read as arrays (`column`), grouped by value (`factorize`,
  `parcel_codes`); the scikit-learn tags of estimators that read them.
- `measures`: what the form states per row: weight per unit, US dollars, HS chapter, vague
  wording.
- `vectorizer`: `DescriptionVectorizer`, the description's character and word n-grams.
- `linear`: the fitted linear text models' outputs from one sparse product.
- `text_signals`: `TextSignals`, and the words of a description typical of gear (reasons).
- `form`: `FormFeatures`, the named features the model's linear layer reads.
- `scale`: `FlooredScaler`.
- `pipeline`: `feature_pipeline`, the three in order.

Callers import from `training.features`; the modules are its parts.
"""

from training.features.columns import (
    REPEAT_COLUMN,
    SMALL_INPUT,
    ItemColumns,
    column,
    factorize,
    item_columns_tags,
    item_parcel_codes,
    parcel_codes,
    repeat_twins,
)
from training.features.form import FormFeatures
from training.features.measures import (
    UNFIT_CHAPTER_PROBABILITY,
    hs_chapters,
    unit_weights,
    usd_values,
    vague_flags,
)
from training.features.pipeline import feature_pipeline
from training.features.scale import RARE_INDICATOR_SPREAD, FlooredScaler
from training.features.text_signals import (
    BORROWED_WORDING,
    OTHER_CHAPTER,
    SPREAD_SIGNALS,
    ItemSignals,
    TextSignals,
)
from training.features.vectorizer import DescriptionVectorizer

# Models pickled before this package was split name the vocabulary's class here.
from training.features.vectorizer import _VocabularyArrays as _VocabularyArrays
from training.row_cache import trim_cache

__all__ = [
    "BORROWED_WORDING",
    "OTHER_CHAPTER",
    "RARE_INDICATOR_SPREAD",
    "REPEAT_COLUMN",
    "SMALL_INPUT",
    "SPREAD_SIGNALS",
    "UNFIT_CHAPTER_PROBABILITY",
    "DescriptionVectorizer",
    "FlooredScaler",
    "FormFeatures",
    "ItemColumns",
    "ItemSignals",
    "TextSignals",
    "column",
    "factorize",
    "feature_pipeline",
    "hs_chapters",
    "item_columns_tags",
    "item_parcel_codes",
    "parcel_codes",
    "repeat_twins",
    "trim_cache",
    "unit_weights",
    "usd_values",
    "vague_flags",
]
