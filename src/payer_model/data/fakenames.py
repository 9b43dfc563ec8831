"""Placeholder company and person names for the synthetic portfolio (PII stand-ins).

Kept apart from the behaviour draws of :mod:`payer_model.data.generate`: names use their
own random stream, so they never shift the payment behaviour.
"""

from __future__ import annotations

import numpy as np

WORDS_A = np.array(
    [
        "Alpine", "Baltic", "Blue", "Bright", "Central", "Coastal", "Delta", "Eastern",
        "Euro", "First", "Golden", "Green", "Harbor", "Iron", "Lake", "Linden", "Meridian",
        "Nordic", "North", "Oak", "Pioneer", "Prime", "River", "Royal", "Silver", "Summit",
        "Sun", "United", "Vertex", "West",
    ]
)  # fmt: skip
WORDS_B = np.array(
    [
        "Bau", "Builders", "Care", "Consulting", "Dynamics", "Electric", "Foods", "Freight",
        "Health", "Holdings", "Industries", "Logistics", "Machines", "Materials", "Media",
        "Metals", "Motors", "Partners", "Pharma", "Retail", "Services", "Solutions",
        "Supplies", "Systems", "Technik", "Textiles", "Tools", "Trading", "Trans", "Works",
    ]
)  # fmt: skip
FIRST = np.array(
    [
        "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jan",
        "Klara", "Luca", "Marie", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tina", "Victor",
    ]
)  # fmt: skip
LAST = np.array(
    [
        "Becker", "Costa", "Dubois", "Fischer", "Garcia", "Jansen", "Kowalski", "Lambert",
        "Martin", "Meyer", "Novak", "Peeters", "Rossi", "Schmidt", "Smith", "Visser",
        "Wagner", "Weber", "Wojcik", "Young",
    ]
)  # fmt: skip


def draw_names(name_rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Word and name indices of the customers' names and e-mails."""
    names: dict[str, np.ndarray] = {}
    # Names and e-mails (PII placeholders) use their own stream so they never shift
    # the behaviour draws.
    names["name_a"] = name_rng.integers(0, len(WORDS_A), size=n)
    names["name_b"] = name_rng.integers(0, len(WORDS_B), size=n)
    names["first"] = name_rng.integers(0, len(FIRST), size=n)
    names["last"] = name_rng.integers(0, len(LAST), size=n)
    return names
