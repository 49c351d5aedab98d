"""Track titles: a short, seed-stable name from the mood and genre ("Quiet Notebook", "Golden Horizon")."""

from __future__ import annotations

import numpy as np

ADJECTIVES: dict[str, list[str]] = {
    "calm": ["Quiet", "Still", "Gentle", "Soft", "Slow"],
    "chill": ["Lazy", "Mellow", "Hazy", "Velvet", "Late"],
    "happy": ["Sunny", "Bright", "Little", "Golden", "Sweet"],
    "upbeat": ["Forward", "Bright", "Rising", "Open", "Clear"],
    "energetic": ["Electric", "Neon", "Rapid", "Wild", "Burning"],
    "epic": ["Iron", "Endless", "Fallen", "Crimson", "Ancient"],
    "dark": ["Hollow", "Midnight", "Silent", "Deep", "Cold"],
    "romantic": ["Tender", "Candle", "Rose", "Warm", "Paper"],
    "sad": ["Faded", "Distant", "Grey", "Lost", "Winter"],
}
NOUNS: dict[str, list[str]] = {
    "lofi": ["Notebook", "Rain", "Window", "Cassette", "Afternoon", "Coffee"],
    "ambient": ["Horizon", "Drift", "Tide", "Clouds", "Air", "Field"],
    "cinematic": ["Kingdom", "Voyage", "Summit", "Dawn", "Legacy", "Storm"],
    "corporate": ["Momentum", "Vision", "Progress", "Launch", "Signal", "Growth"],
    "acoustic": ["Road", "Porch", "Meadow", "Campfire", "Letter", "Harbor"],
    "piano": ["Reverie", "Letters", "Memory", "Lullaby", "Garden", "Evening"],
    "electronic": ["Circuit", "Pulse", "Skyline", "Voltage", "Grid", "Orbit"],
}


def make_title(mood: str, genre: str, seed: int) -> str:
    rng = np.random.default_rng([seed, 4242])
    adjectives = ADJECTIVES.get(mood, ADJECTIVES["chill"])
    nouns = NOUNS.get(genre, NOUNS["lofi"])
    return f"{adjectives[int(rng.integers(len(adjectives)))]} {nouns[int(rng.integers(len(nouns)))]}"
