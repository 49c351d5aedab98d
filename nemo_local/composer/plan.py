"""The musical plan: everything the engine decided from a prompt, as plain JSON-serialisable data.

A plan is the seam between understanding (prompt.py) and making (arrange.py): the server stores it, edits
it ("calmer", "make it 45 seconds") through :meth:`MusicPlan.adjusted`, and composes from it again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Mode = Literal["major", "minor"]

MIN_DURATION_S = 1.0
MAX_DURATION_S = 600.0
MIN_BPM = 50
MAX_BPM = 180
MIN_ENERGY = 1
MAX_ENERGY = 5

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


class MusicPlan(BaseModel):
    """What to compose. ``understood`` lists, in words, what the prompt contributed (the rest are defaults)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = ""
    mood: str = "chill"
    genre: str = "lofi"
    bpm: int = Field(default=80, ge=MIN_BPM, le=MAX_BPM)
    key: str = "C"
    mode: Mode = "major"
    duration_s: float = Field(default=30.0, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    loop: bool = False
    seed: int = Field(default=0, ge=0)
    instruments: list[str] = Field(default_factory=list)
    energy: int = Field(default=3, ge=MIN_ENERGY, le=MAX_ENERGY)
    drums: bool = True
    #: True when the prompt named this tempo ("at 128 bpm"): the engine then keeps it, not nudging it by
    #: up to 15 % to fit whole bars. An energy edit changes the tempo, and so ends this.
    bpm_named: bool = False
    understood: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _named_before_the_field(cls, data: Any) -> Any:
        """A plan stored before `bpm_named` existed said so only in its notes ("tempo: 128 BPM")."""
        if isinstance(data, dict) and "bpm_named" not in data:
            notes, bpm = data.get("understood") or [], data.get("bpm")
            named = any(isinstance(n, str) and n.startswith(f"tempo: {bpm} BPM") for n in notes)
            data = {**data, "bpm_named": named}
        return data

    @property
    def key_name(self) -> str:
        """Human key name, e.g. ``"A minor"`` (what the metadata shows)."""
        return f"{self.key} {self.mode}"

    @property
    def shape(self) -> str:
        """``"build"`` when the prompt asks for a build-up (the track rises from sparse to full), else
        ``"song"`` (intro, sections, outro). Loops never build: their end must meet their start."""
        from nemo_local.composer.vocabulary import BUILD_UP

        return "build" if not self.loop and BUILD_UP.search(self.prompt.lower()) else "song"

    @property
    def tonic_pitch_class(self) -> int:
        return PITCH_NAMES.index(self.key)

    def adjusted(
        self, *, energy: int = 0, duration_s: float | None = None, seed: int | None = None
    ) -> MusicPlan:
        """A new plan nudged calmer (energy=-1) or more upbeat (+1), or set to another duration or seed.

        Energy moves the tempo by about 12 % per step as well as the arrangement density, because a listener
        asking for "more upbeat" expects both; the plan's own record of what changed goes to ``understood``.
        """
        data = self.model_dump()
        notes = list(self.understood)
        if energy:
            new_energy = max(MIN_ENERGY, min(MAX_ENERGY, self.energy + energy))
            steps = new_energy - self.energy if new_energy != self.energy else energy
            bpm = round(self.bpm * (1.12**steps))
            data["bpm"] = max(MIN_BPM, min(MAX_BPM, bpm))
            data["energy"] = new_energy
            data["bpm_named"] = False
            notes.append(
                f"adjusted: {'more upbeat' if energy > 0 else 'calmer'} (energy {new_energy}, {data['bpm']} BPM)"
            )
        if duration_s is not None:
            data["duration_s"] = max(MIN_DURATION_S, min(MAX_DURATION_S, float(duration_s)))
            notes.append(f"adjusted: duration {data['duration_s']:g} s")
        if seed is not None:
            data["seed"] = int(seed)
            notes.append(f"adjusted: seed {seed}")
        data["understood"] = notes
        return MusicPlan.model_validate(data)
