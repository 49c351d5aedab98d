"""Text (English or Chinese) -> :class:`MusicPlan`.

Rule-based on purpose: the result must be explainable (``plan.understood``), deterministic and instant.
Every recognised span is blanked out after use so one phrase never counts twice ("2-minute" is not also
"2 m"; "lo-fi" is not also "fi").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

from nemo_local.composer.plan import (
    MAX_BPM,
    MAX_DURATION_S,
    MIN_BPM,
    MIN_DURATION_S,
    PITCH_NAMES,
    MusicPlan,
)
from nemo_local.composer.vocabulary import (
    DEFAULT_GENRE,
    DEFAULT_MOOD,
    GENRE_FOR_MOOD,
    INSTRUMENT_WORDS,
    MOOD_FOR_GENRE,
    NO_DRUMS_PHRASES,
    TEMPO_WORDS,
    WORDS,
    Meaning,
)
from nemo_local.durations import durations

GENRE_BPM: dict[str, int] = {
    "lofi": 80,
    "ambient": 66,
    "cinematic": 90,
    "corporate": 112,
    "acoustic": 100,
    "piano": 74,
    "electronic": 122,
}
MOOD_ENERGY: dict[str, int] = {
    "calm": 1,
    "chill": 2,
    "happy": 4,
    "upbeat": 4,
    "energetic": 5,
    "epic": 5,
    "dark": 3,
    "romantic": 2,
    "sad": 1,
}
MAJOR_MOODS = {"happy", "upbeat", "romantic", "energetic"}
MINOR_MOODS = {"dark", "sad", "epic"}
COMFORT_KEYS = {"major": ("C", "D", "Eb", "F", "G", "A", "Bb"), "minor": ("A", "D", "E", "C", "G", "B", "F")}

_ENHARMONIC = {
    "DB": "C#",
    "D#": "Eb",
    "GB": "F#",
    "G#": "Ab",
    "A#": "Bb",
    "E#": "F",
    "FB": "E",
    "CB": "B",
    "B#": "C",
}
# Linear-time patterns only (the agent parses every chat message with them): numbers anchored and
# bounded, and no two adjacent quantifiers that can split one run of spaces between them. Durations are
# read by nemo_local.durations, the reader the agent shares.


@dataclass
class _Scan:
    """The prompt being consumed: matched spans are replaced by spaces so later rules cannot reuse them."""

    text: str
    understood: list[str] = field(default_factory=list)

    def take(self, match: re.Match[str]) -> None:
        self.take_span(*match.span())

    def take_span(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]


def _phrase_regex(phrase: str) -> re.Pattern[str]:
    if phrase.isascii():
        body = re.escape(phrase).replace(r"\ ", r"[\s_-]*").replace(r"\-", r"[\s_-]*")
        return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
    return re.compile(re.escape(phrase))


def _ordered(words: dict[str, object]) -> list[str]:
    return sorted(words, key=len, reverse=True)


_WORD_RES = [(w, _phrase_regex(w)) for w in _ordered(WORDS)]  # type: ignore[arg-type]
_TEMPO_RES = [(w, _phrase_regex(w)) for w in _ordered(TEMPO_WORDS)]  # type: ignore[arg-type]
_INSTR_RES = [(w, _phrase_regex(w)) for w in _ordered(INSTRUMENT_WORDS)]  # type: ignore[arg-type]
_NO_DRUMS_RES = [_phrase_regex(p) for p in NO_DRUMS_PHRASES]


def _parse_duration(scan: _Scan) -> float | None:
    """The first positive duration the prompt names (read by `nemo_local.durations`, the agent's reader
    too), clamped to what the composer makes."""
    for found in durations(scan.text):
        if found.seconds <= 0:
            continue
        scan.take_span(found.start, found.end)
        seconds = found.seconds
        clamped = max(MIN_DURATION_S, min(MAX_DURATION_S, seconds))
        note = f"duration: {clamped:g} s ({found.phrase.strip()})"
        if clamped != seconds:
            note += f", clamped from {seconds:g} s"
        scan.understood.append(note)
        return clamped
    return None


def _parse_bpm(scan: _Scan) -> int | None:
    for regex in (
        re.compile(r"(?<!\d)(\d{2,3})\s*(?:-\s*)?(?:bpm|beats per minute|beats/min|拍每分钟|拍)"),
        re.compile(r"(?:bpm|tempo|速度)\s*(?:[:=：]\s*)?(\d{2,3})(?!\d)"),
    ):
        match = regex.search(scan.text)
        if match:
            scan.take(match)
            value = int(match.group(1))
            bpm = max(MIN_BPM, min(MAX_BPM, value))
            scan.understood.append(f"tempo: {bpm} BPM" + (f" (clamped from {value})" if bpm != value else ""))
            return bpm
    return None


def _normalise_key(letter: str, accidental: str) -> str:
    acc = accidental.strip().lower().replace("♯", "#").replace("♭", "b")
    acc = {"sharp": "#", "flat": "b", "-sharp": "#", "-flat": "b"}.get(acc, acc)
    name = letter.upper() + acc
    name = _ENHARMONIC.get(name.upper(), name)
    return name if name in PITCH_NAMES else letter.upper()


def _parse_key(scan: _Scan, original: str) -> tuple[str | None, str | None]:
    acc = r"(#|♯|♭|b|\s?sharp|\s?flat|-sharp|-flat)?"
    regexes = [
        re.compile(rf"(?<![a-z])([a-g]){acc}\s*(major|minor|maj|min)(?![a-z])"),
        re.compile(rf"(?:\bin|\bkey of|\bkey)(?:\s*:)?\s+([a-g]){acc}(m)?(?![a-z#♯♭])"),
        re.compile(r"([a-g])(#|b)?\s*(大调|小调|调)"),
    ]
    for i, regex in enumerate(regexes):
        for match in regex.finditer(scan.text):
            letter = original[match.start(1)]
            if i == 1 and not letter.isupper():
                continue  # "in a calm mood": only a capital letter is a key without a mode word
            mode_word = (match.group(3) or "").lower()
            mode = None
            if mode_word in ("minor", "min", "m", "小调"):
                mode = "minor"
            elif mode_word in ("major", "maj", "大调"):
                mode = "major"
            key = _normalise_key(letter, match.group(2) or "")
            scan.take(match)
            scan.understood.append(f"key: {key}" + (f" {mode}" if mode else ""))
            return key, mode
    for regex, mode in (
        (re.compile(r"(?<![a-z])major(?![a-z])|大调"), "major"),
        (re.compile(r"(?<![a-z])minor(?![a-z])|小调"), "minor"),
    ):
        found = regex.search(scan.text)
        if found:
            scan.take(found)
            scan.understood.append(f"mode: {mode}")
            return None, mode
    return None, None


def _parse_seed(scan: _Scan) -> int | None:
    match = re.search(r"(?:seed|种子)\s*(?:[:=#：]\s*)?(\d{1,12})", scan.text)
    if not match:
        return None
    scan.take(match)
    seed = int(match.group(1))
    scan.understood.append(f"seed: {seed}")
    return seed


def _parse_loop(scan: _Scan) -> bool:
    match = re.search(
        r"(?<![a-z])(?:seamless(?:ly)?\s*)?(?:loopable|looping|loops?|looped)(?![a-z])|循环", scan.text
    )
    if match:
        scan.take(match)
        scan.understood.append("loop: seamless")
        return True
    return False


def _parse_no_drums(scan: _Scan) -> bool:
    for regex in _NO_DRUMS_RES:
        match = regex.search(scan.text)
        if match:
            scan.take(match)
            scan.understood.append("no drums")
            return True
    return False


def _parse_tempo_words(scan: _Scan) -> tuple[int | None, float]:
    for word, regex in _TEMPO_RES:
        match = regex.search(scan.text)
        if match:
            scan.take(match)
            absolute, factor = TEMPO_WORDS[word]
            scan.understood.append(f"tempo word: {word}")
            return absolute, factor
    return None, 1.0


def _parse_instruments(scan: _Scan) -> list[str]:
    """Instrument words may also name a genre ("piano"), so they are read without being consumed."""
    found: list[tuple[int, str]] = []
    for word, regex in _INSTR_RES:
        found.extend((match.start(), INSTRUMENT_WORDS[word]) for match in regex.finditer(scan.text))
    names: list[str] = []
    for _, name in sorted(found):
        if name not in names:
            names.append(name)
    if names:
        scan.understood.append("instruments: " + ", ".join(names))
    return names


def _parse_words(scan: _Scan) -> list[tuple[int, str, Meaning]]:
    hits: list[tuple[int, str, Meaning]] = []
    for word, regex in _WORD_RES:
        for match in regex.finditer(scan.text):
            hits.append((match.start(), word, WORDS[word]))
            scan.take(match)
    hits.sort(key=lambda h: h[0])
    return hits


def stable_seed(text: str) -> int:
    """A seed derived from the prompt itself, so the same words give the same track without a seed."""
    digest = hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def parse_prompt(
    prompt: str,
    default_duration_s: float = 30.0,
    *,
    duration_s: float | None = None,
    seed: int | None = None,
    loop: bool | None = None,
) -> MusicPlan:
    """Understand ``prompt``; keyword arguments, when given, override what the text says."""
    original = prompt or ""
    scan = _Scan(text=original.lower())
    bpm = named_bpm = _parse_bpm(scan)
    parsed_duration = _parse_duration(scan)
    parsed_seed = _parse_seed(scan)
    parsed_loop = _parse_loop(scan)
    no_drums = _parse_no_drums(scan)
    key, mode = _parse_key(scan, original)
    instruments = _parse_instruments(scan)
    hits = _parse_words(scan)
    tempo_abs, tempo_factor = _parse_tempo_words(scan)

    mood = next((m.mood for _, _, m in hits if m.mood), None)
    genre = next((m.genre for _, _, m in hits if m.genre), None)
    if hits:
        scan.understood.append("style words: " + ", ".join(w for _, w, _ in hits))
    if mood is None and genre is None:
        mood, genre = DEFAULT_MOOD, DEFAULT_GENRE
        scan.understood.append(f"no style words recognised: default {mood} {genre}")
    elif mood is None:
        assert genre is not None
        mood = MOOD_FOR_GENRE[genre]
    elif genre is None:
        genre = GENRE_FOR_MOOD[mood]
    assert mood is not None and genre is not None
    energies = [m.energy for _, _, m in hits if m.energy is not None]
    energy = round(sum(energies) / len(energies)) if energies else MOOD_ENERGY[mood]
    if mode is None:
        mode = next((m.mode for _, _, m in hits if m.mode), None)

    final_seed = (
        seed if seed is not None else parsed_seed if parsed_seed is not None else stable_seed(original)
    )
    rng = np.random.default_rng(final_seed)
    if mode is None:
        if mood in MAJOR_MOODS or genre == "corporate":
            mode = "major"
        elif mood in MINOR_MOODS:
            mode = "minor"
        else:
            mode = "major" if rng.random() < 0.5 else "minor"
    if key is None:
        options = COMFORT_KEYS[mode]
        key = options[int(rng.integers(len(options)))]
    if bpm is None:
        base = GENRE_BPM[genre] * (1.0 + 0.06 * (energy - 3)) + float(rng.integers(-3, 4))
        if tempo_abs is not None:
            base = tempo_abs
        bpm = round(max(MIN_BPM, min(MAX_BPM, base * tempo_factor)))
    if duration_s is not None:
        final_duration = max(MIN_DURATION_S, min(MAX_DURATION_S, float(duration_s)))
    elif parsed_duration is not None:
        final_duration = parsed_duration
    else:
        final_duration = max(MIN_DURATION_S, min(MAX_DURATION_S, float(default_duration_s)))
    final_loop = loop if loop is not None else parsed_loop
    if no_drums and "drums" in instruments:
        instruments.remove("drums")
    return MusicPlan(
        prompt=original,
        mood=mood,
        genre=genre,
        bpm=bpm,
        key=key,
        mode=mode,  # type: ignore[arg-type]
        duration_s=final_duration,
        loop=final_loop,
        seed=final_seed,
        instruments=instruments,
        energy=max(1, min(5, energy)),
        drums=not no_drums,
        bpm_named=named_bpm is not None,
        understood=scan.understood,
    )
