"""Prompt understanding: every phrase family from the issue, in English and Chinese."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nemo_local.composer import MusicPlan, parse_prompt


@pytest.mark.parametrize(
    ("prompt", "seconds"),
    [
        ("60-second upbeat corporate", 60.0),
        ("a 2-minute calm track", 120.0),
        ("epic cinematic 90s", 90.0),
        ("ambient, 1:30", 90.0),
        ("calm lo-fi for a 2-minute product video", 120.0),
        ("piano 1 minute 30 seconds", 90.0),
        ("2 min 15 s of electronic", 135.0),
        ("half a minute of happy acoustic", 30.0),
        ("舒缓 钢琴 45秒", 45.0),
        ("欢快 两分钟", 120.0),
        ("史诗 1分30秒", 90.0),
        ("轻音乐 一分半", 90.0),
        ("two minutes of calm piano", 120.0),
        ("lo-fi, 1.5 min", 90.0),
        ("a minute and a half of jazz", 90.0),
        ("90 seconds, the 80s synthwave", 90.0),
    ],
)
def test_duration_phrases(prompt: str, seconds: float) -> None:
    plan = parse_prompt(prompt)
    assert plan.duration_s == seconds
    assert any(note.startswith("duration:") for note in plan.understood)


def test_decade_is_not_a_duration() -> None:
    plan = parse_prompt("the 80s synthwave vibe", default_duration_s=33.0)
    assert plan.duration_s == 33.0
    assert plan.genre == "electronic"


@pytest.mark.parametrize(
    ("prompt", "mood", "genre"),
    [
        ("calm", "calm", "piano"),
        ("chill lo-fi", "chill", "lofi"),
        ("upbeat", "upbeat", "corporate"),
        ("happy", "happy", "acoustic"),
        ("corporate presentation", "upbeat", "corporate"),
        ("epic", "epic", "cinematic"),
        ("ambient", "calm", "ambient"),
        ("acoustic", "happy", "acoustic"),
        ("piano", "calm", "piano"),
        ("electronic", "energetic", "electronic"),
        ("dark cinematic", "dark", "cinematic"),
        ("romantic", "romantic", "piano"),
        ("energetic electronic", "energetic", "electronic"),
        ("舒缓", "calm", "piano"),
        ("欢快", "happy", "acoustic"),
        ("史诗", "epic", "cinematic"),
        ("轻音乐", "calm", "piano"),
        ("浪漫 钢琴", "romantic", "piano"),
        ("动感 电子", "energetic", "electronic"),
        ("轻松 低保真", "chill", "lofi"),
        ("轻快 商务", "upbeat", "corporate"),
        ("电影 黑暗", "dark", "cinematic"),
        ("氛围", "calm", "ambient"),
        ("原声", "happy", "acoustic"),
        ("活力", "energetic", "electronic"),
    ],
)
def test_mood_and_genre_words(prompt: str, mood: str, genre: str) -> None:
    plan = parse_prompt(prompt)
    assert (plan.mood, plan.genre) == (mood, genre)


def test_unknown_words_fall_back_and_say_so() -> None:
    plan = parse_prompt("something for my grandmother's birthday slideshow")
    assert plan.mood and plan.genre
    assert any("default" in note for note in plan.understood)


def test_bpm_key_mode_seed_loop_and_instruments() -> None:
    plan = parse_prompt("dark ambient in F# minor at 72 bpm with strings and flute, seed 42, loopable")
    assert plan.bpm == 72
    assert (plan.key, plan.mode) == ("F#", "minor")
    assert plan.seed == 42
    assert plan.loop is True
    assert plan.instruments == ["strings", "flute"]
    assert "key: F# minor" in plan.understood


def test_chinese_key_and_loop() -> None:
    plan = parse_prompt("C大调 欢快 循环")
    assert (plan.key, plan.mode, plan.loop) == ("C", "major", True)


def test_tempo_words_move_the_tempo() -> None:
    slow = parse_prompt("slow chill lo-fi seed 3")
    fast = parse_prompt("fast chill lo-fi seed 3")
    assert slow.bpm < fast.bpm


def test_flat_key_and_no_drums() -> None:
    plan = parse_prompt("happy acoustic in Bb major, no drums")
    assert plan.key == "Bb"
    assert plan.drums is False


def test_keyword_overrides_and_stable_default_seed() -> None:
    a = parse_prompt("calm piano 60-second", duration_s=12.0, seed=5, loop=True)
    assert (a.duration_s, a.seed, a.loop) == (12.0, 5, True)
    assert parse_prompt("calm piano").seed == parse_prompt("calm  piano").seed
    assert parse_prompt("calm piano").seed != parse_prompt("calm piano, please").seed


def test_plan_round_trips_and_adjusts() -> None:
    plan = parse_prompt("chill lo-fi 40 seconds seed 9")
    again = MusicPlan.model_validate(plan.model_dump())
    assert again == plan
    calmer = plan.adjusted(energy=-1)
    upbeat = plan.adjusted(energy=+1)
    assert calmer.bpm < plan.bpm < upbeat.bpm
    assert calmer.energy <= plan.energy <= upbeat.energy
    assert plan.adjusted(duration_s=45.0).duration_s == 45.0
    assert plan.duration_s == 40.0  # the original is untouched


def test_parsing_a_prompt_does_not_load_the_synthesis_stack() -> None:
    """The server process only parses prompts; scipy.signal (seconds to import) belongs to the workers."""
    probe = (
        "import sys; from nemo_local.composer import MusicPlan, parse_prompt; parse_prompt('calm piano'); "
        "print('scipy.signal' in sys.modules, 'nemo_local.composer.engine' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]


def test_a_named_tempo_is_a_field_of_the_plan_not_read_from_its_notes() -> None:
    plan = parse_prompt("upbeat at 128 bpm")
    assert plan.bpm == 128 and plan.bpm_named is True
    assert plan.model_copy(update={"understood": []}).bpm_named is True  # the notes are only for people
    assert parse_prompt("upbeat and fast").bpm_named is False  # a tempo word only scales the genre's
    assert plan.adjusted(duration_s=45.0).bpm_named is True
    assert plan.adjusted(energy=1).bpm_named is False  # an energy edit changes the tempo


def test_a_plan_stored_before_the_field_keeps_its_named_tempo() -> None:
    stored = parse_prompt("calm at 90 bpm").model_dump(exclude={"bpm_named"})
    assert MusicPlan.model_validate(stored).bpm_named is True
    unnamed = parse_prompt("calm piano").model_dump(exclude={"bpm_named"})
    assert MusicPlan.model_validate(unnamed).bpm_named is False
