"""Who ships to whom (`party_ids`): sender and recipient ids of each parcel, with repeat
shippers and collectors of gear and the honest repeat parties that look like them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.schema import CATEGORIES
from training.synth.numbers import hash_ids
from training.synth.sampling import BoolArray, IntArray, ObjectArray


def party_ids(
    settings: dict[str, Any],
    rows: int,
    rng: np.random.Generator,
    seed: int,
    positive: BoolArray,
    origin: ObjectArray,
    destination: ObjectArray,
    category: IntArray,
) -> tuple[ObjectArray, ObjectArray]:
    """Sender and recipient ids of each parcel: who ships, to whom, and how often.

    Ids of the same party recur across blocks (they hash the seed, not the block), so a
    party's parcels spread over the years the generator covers. Gear comes from repeat
    shippers and goes to collectors who buy from many sellers; honest traffic has its own
    repeat shippers (families sending to the same relatives, small sellers) and its own
    collectors (forwarding addresses), so being a repeat party alone proves little. Pools
    are sized per 100,000 rows generated, so a party ships about as often in a small run
    as in a large one.
    """
    n = len(positive)
    scale = rows / 100_000
    draw = rng.random((3, n))
    pick = rng.integers(0, 2**31, size=(3, n))
    salt = seed * 16
    # Everyone else ships once: wide ids so that chance collisions make no false history.
    sender = hash_ids(rng.integers(0, 2**62, size=n), salt + 1, bits=40)
    recipient = hash_ids(rng.integers(0, 2**62, size=n), salt + 2, bits=40)

    def pool(key: IntArray, per_100k: int, salt_no: int) -> IntArray:
        size = max(1, round(per_100k * scale))
        return hash_ids(key * 1_000_003 + pick[salt_no % 3] % size, salt + salt_no, bits=40)

    origin_code = np.array([sum(map(ord, str(o))) for o in origin], dtype=np.int64)
    destination_code = np.array([sum(map(ord, str(d))) for d in destination], dtype=np.int64)
    benign = ~positive
    # Gear: repeat senders per origin, a few contacts of their own or a collector abroad.
    offender = positive & (draw[0] < settings["offender_share"])
    # Offenders ship ordinary parcels too (presents, their own belongings).
    offender |= benign & (draw[0] < settings["offender_benign_share"])
    sender = np.where(offender, pool(np.zeros(n, np.int64), settings["offenders"], 3), sender)
    collector = positive & (draw[1] < settings["collector_share"])
    contact = offender & ~collector
    recipient = np.where(
        contact,
        hash_ids(sender * 8 + pick[2] % settings["offender_contacts"], salt + 4, bits=40),
        recipient,
    )
    recipient = np.where(collector, pool(destination_code, settings["collectors"], 5), recipient)
    # Honest repeat shippers: families (to one or two relatives), small sellers (to many).
    family = benign & ~offender & (draw[0] >= 1 - settings["family_share"])
    sender = np.where(family, pool(np.zeros(n, np.int64), settings["families"], 6), sender)
    recipient = np.where(family, hash_ids(sender * 8 + pick[2] % 2, salt + 7, bits=40), recipient)
    sale = category == CATEGORIES.index("sale_of_goods")
    seller = benign & ~offender & ~family & sale & (draw[2] < settings["seller_share"])
    sender = np.where(seller, pool(origin_code, settings["sellers"], 8), sender)
    # Forwarding addresses receive from many senders, like collectors of gear do.
    forwarder = benign & ~family & (draw[1] < settings["forwarder_share"])
    recipient = np.where(forwarder, pool(destination_code, settings["forwarders"], 9), recipient)
    return (
        np.array([f"S-{v:010x}" for v in sender.tolist()], dtype=object),
        np.array([f"R-{v:010x}" for v in recipient.tolist()], dtype=object),
    )
