"""Synthetic labelled CN22/CN23 declarations for training.

There is no public labelled corpus, so the model learns only what this generator encodes.
All domain knowledge (item catalogue, phrasings, disguises, lanes, currencies, rates) lives
in `training/lexicon/`; this package is sampling machinery only. See docs/generator.md.

Parcels are generated in fixed-size blocks, each with its own random stream derived from
(seed, block number), so the output depends only on (rows, seed): `chunk_rows` merely
decides where the stream of parcels is cut into frames.

One job a module:

- `sampling`: inverse-CDF draws, per row or per group of rows; the array types.
- `dates`: the years covered, the day each parcel is posted, shares drifting by year.
- `catalogue`: the lexicon compiled into arrays and cumulative tables; phrasings per
  language and year.
- `numbers`: values, prices and ids as people and post offices write them.
- `parties`: sender and recipient ids (repeat shippers, collectors, families, sellers).
- `wording`: what senders add around a name (counts, colour, typos, CAPS).
- `block`: one block of parcels, every field of every line.
- `generate`: blocks cut into frames of whole parcels (`generate_declarations`).
- `write`: the contract's CSV, written atomically (`write_synthetic_csv`).
- `store`: the outcomes and watch list a store would hold for generated parties.

Callers import from `training.synth`; the modules are its parts.
"""

from training.synth.block import BLOCK_PARCELS, REGISTERS
from training.synth.dates import YEARS
from training.synth.generate import generate_declarations, generate_declarations_with_registers
from training.synth.store import simulated_store
from training.synth.write import write_synthetic_csv

__all__ = [
    "BLOCK_PARCELS",
    "REGISTERS",
    "YEARS",
    "generate_declarations",
    "generate_declarations_with_registers",
    "simulated_store",
    "write_synthetic_csv",
]
