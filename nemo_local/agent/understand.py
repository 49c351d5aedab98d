"""What a message asks for: a new track, edits of the current timeline, or just an answer.

Rule-based on purpose (there is no language model here): each edit has English and Chinese trigger
words, and whatever is not an edit but describes music becomes a generate request for the composer.

Every pattern runs in linear time on any message (the API bounds messages at 16 KB, and one message
must never hold the CPU for long): "A ... B" rules are two searches (`_then`) instead of `A.*B`, which
retries the rest of the text from every A; quantified parts are bounded; quotes never span an opener.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from nemo_local.agent.numbers import find_percent, normalise
from nemo_local.durations import duration_at, durations, find_duration_s

DEFAULT_FADE_S = 2.0
DEFAULT_TITLE_S = 3.0
#: A longer message is not a title. The server also caps it at its text limit (--max-text-chars, see
#: turn.py), so a title the agent adds can always be exported.
TITLE_CHARS = 200


@dataclass(frozen=True)
class _Then:
    """`first` somewhere, then `second` after it (what `first.*second` means), or `alone` anywhere: two
    linear searches instead of a pattern that backtracks over the rest of the text from every `first`."""

    first: re.Pattern[str]
    second: re.Pattern[str]
    alone: re.Pattern[str] | None = None

    def search(self, text: str) -> bool:
        if self.alone is not None and self.alone.search(text):
            return True
        m = self.first.search(text)
        return bool(m and self.second.search(text, m.end()))


_GENERATE = _Then(
    re.compile(r"\b(generate|create|compose|make|produce|write|give me|i need|i want)\b"),
    re.compile(r"\b(music|track|song|bgm|beat|soundtrack|tune|loop|background|melody|jingle)"),
    re.compile(r"生成|创作|[作做来写]1?首|配乐|背景音乐|做个音乐|来段音乐"),
)
_REPLACE = _Then(
    re.compile(r"\b(replace|swap)\b"),
    re.compile(r"\b(track|music|song|bgm)\b"),
    re.compile(
        r"\b(new|another|different|other) (track|song|tune|music)\b|换1?首|重新生成|替换音乐|换个音乐|换音乐"
    ),
)
_MUSIC_WORDS = re.compile(
    r"lo-?fi|jazz|piano|ambient|cinematic|epic|rock|pop|edm|electronic|hip ?hop|orchestral|acoustic|guitar|"
    r"chill|calm|upbeat|happy|sad|dark|energetic|relaxing|corporate|synth|bpm|beat|music|track|song|"
    r"音乐|钢琴|爵士|电子|轻松|欢快|舒缓|史诗|摇滚|流行|吉他"
)
_FIT = _Then(
    re.compile(r"\b(fit|match|sync|align)\b"),
    re.compile(r"\bvideo\b"),
    re.compile(
        r"same length as the video|as long as the video|video'?s length|"
        r"配合视频|匹配视频|和视频一样长|与视频一样长|跟视频一样长|适配视频|视频长度|对齐视频"
    ),
)
_CALMER = re.compile(
    r"\b(calmer|softer|gentler|mellower|more (relaxed|chill|calm|mellow|gentle|peaceful)|less (intense|energetic|busy)|"
    r"slower|slow it down|tone it down)\b|更舒缓|舒缓一点|更平静|平静一点|更安静|安静一点|更柔和|柔和一点|慢一点|更慢"
)
_UPBEAT = re.compile(
    r"\b(more upbeat|upbeat(ter)?|more energetic|more energy|faster|livelier|more lively|punchier|happier|"
    r"more exciting|more intense|speed it up|pump it up)\b|更欢快|欢快一点|更有活力|更激昂|更动感|快一点|更快|节奏更快"
)
_LENGTH = re.compile(
    r"\b(make (it|the (music|track|song))|change (the )?(length|duration)( of [a-z ]{1,40})?|set (the )?(length|duration)|"
    r"(shorten|extend|lengthen|trim|cut)( it| the (music|track|song))?|length|duration)\b[^%]{0,24}?\bto\b|"
    r"改成|改为|缩短到|延长到|时长|长度"
)
_MAKE_IT = re.compile(r"\bmake (it|the (music|track|song)) ")  # "make it 2 minutes", "make it two minutes"
_LONG = re.compile(r" ?long\b")  # "30 seconds long"
_LONG_WORD = re.compile(r"\blong\b")
_FOR = re.compile(r"\bfor ")
_VOLUME_WORD = re.compile(r"\b(volume|music|bgm|track|song|loudness)\b|音量|音乐|背景音")
_QUIETER = re.compile(
    r"\b(quieter|lower the (music|volume|bgm)|turn (it|the music|the bgm) down|softer volume)\b|小声|音量调低|调低音量|降低音量"
)
_LOUDER = re.compile(
    r"\b(louder|raise the (music|volume|bgm)|turn (it|the music|the bgm) up)\b|大声|调高音量|音量调高|提高音量"
)
_MUTE = re.compile(r"\bmute\b|静音")
_FADE_IN = re.compile(r"fade[- ]?in|淡入")
_FADE_OUT = re.compile(r"fade[- ]?out|淡出")
_FADE_BOTH = re.compile(r"fade[- ]?in (and|&|/) ?(fade[- ]?)?out|淡入淡出")
_TITLE = re.compile(r"\b(title|caption|heading|headline|text overlay)\b|标题|字幕")
_QUOTED = re.compile(
    r"\"([^\"]+)\"|“([^“”]+)”|「([^「」]+)」|『([^『』]+)』|《([^《》]+)》|'([^']{2,})'|‘([^‘’]+)’"
)
_TITLE_WORD = re.compile(r"(?:title|caption|heading|headline) ?(?:saying|that says|reading|of|:)? ?", re.I)
_TITLE_END = re.compile(r" for \d| at ", re.I)
_EXPORT = re.compile(r"\b(export|download|render)\b|导出|下载")
_STATUS = re.compile(r"\b(status|show (me )?(the )?tracks|timeline|what.?s on)\b|状态|时间线")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Op:
    """One edit of the timeline; serialised as the edit_timeline tool's arguments."""

    kind: Literal["volume", "volume_scale", "fade_in", "fade_out", "title", "length", "energy", "fit_video"]
    value: float | None = None
    text: str | None = None

    def as_args(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.kind}
        if self.value is not None:
            out["value"] = self.value
        if self.text is not None:
            out["text"] = self.text
        return out

    @property
    def recomposes(self) -> bool:
        return self.kind in ("length", "energy", "fit_video")


@dataclass
class Understood:
    kind: Literal["generate", "edit", "chat"]
    text: str
    zh: bool
    ops: list[Op] = field(default_factory=list)
    replace: bool = False
    topic: Literal["help", "export", "status", "no_music", "no_video", "nothing"] = "help"


def _title_text(original: str, max_chars: int) -> str | None:
    """The title a message asks for, at most `max_chars` characters (a long message is not a title)."""
    found = _find_title(original)
    return found[:max_chars].strip() or None if found else None


def _title_seconds(norm: str) -> float:
    """How long a title shows: "for 3 seconds" / "for two minutes", else (Chinese) the first "N秒"."""
    for word in _FOR.finditer(norm):
        found = duration_at(norm, word.end())
        if found is not None:
            return found.seconds
    return next((d.seconds for d in durations(norm) if d.phrase.endswith("秒")), DEFAULT_TITLE_S)


def _wanted_length(norm: str) -> float | None:
    """The new length a message asks for ("change the length to 45 seconds", "make it two minutes",
    "30 seconds long", "改成四十五秒"), or None."""
    length = _LENGTH.search(norm)
    if length:
        return find_duration_s(norm[length.start() :])
    for make in _MAKE_IT.finditer(norm):
        found = duration_at(norm, make.end())
        if found is not None:
            return found.seconds
    if not _LONG_WORD.search(norm):
        return None  # no "long": spare a 16 KB message the scan for "<duration> long"
    return next((d.seconds for d in durations(norm) if _LONG.match(norm, d.end)), None)


def _find_title(original: str) -> str | None:
    quoted = _QUOTED.search(original)
    if quoted:
        return next(g for g in quoted.groups() if g)
    # "title saying Hello for 3 s": the text after the first title word, up to " for <n>" / " at "
    spaced = " ".join(original.split())
    for word in _TITLE_WORD.finditer(spaced):
        rest = spaced[word.end() :]
        end = _TITLE_END.search(rest)
        found = (rest[: end.start()] if end else rest).strip()
        if found:
            return found.strip(".,!")
        break
    m = re.search(r"(?:标题|字幕)\s*[:：]?\s*([^，。,\d]+)", original)
    if m and m.group(1).strip():
        return m.group(1).strip()
    return None


def _fade_seconds(norm: str, anchor: re.Pattern[str]) -> float:
    """The duration right after the fade words ("fade out 3 s"), else right before ("a 3 s fade out")."""
    m = anchor.search(norm)
    if not m:
        return DEFAULT_FADE_S
    after = re.split(r"fade|淡", norm[m.end() : m.end() + 24])[0]
    before = re.split(r"fade|淡", norm[max(0, m.start() - 14) : m.start()])[-1]
    for window in (after, before):
        found = find_duration_s(window)
        if found is not None:
            return found
    return DEFAULT_FADE_S


def _edit_ops(original: str, norm: str, title_chars: int) -> list[Op]:
    ops: list[Op] = []
    if _TITLE.search(norm) and re.search(
        r"\b(add|put|show|insert|place|with)\b|添加|加上|加个|加一个|显示", norm
    ):
        text = _title_text(original, title_chars)
        if text:
            ops.append(Op("title", _title_seconds(norm), text))
    percent = find_percent(norm)
    if percent is not None and _VOLUME_WORD.search(norm):
        ops.append(Op("volume", percent))
    elif _MUTE.search(norm):
        ops.append(Op("volume", 0.0))
    elif _QUIETER.search(norm):
        ops.append(Op("volume_scale", 0.6))
    elif _LOUDER.search(norm):
        ops.append(Op("volume_scale", 1.4))
    if _FADE_BOTH.search(norm):
        seconds = _fade_seconds(norm, _FADE_BOTH)
        ops += [Op("fade_in", seconds), Op("fade_out", seconds)]
    else:
        if _FADE_IN.search(norm):
            ops.append(Op("fade_in", _fade_seconds(norm, _FADE_IN)))
        if _FADE_OUT.search(norm):
            ops.append(Op("fade_out", _fade_seconds(norm, _FADE_OUT)))
    if _FIT.search(norm):
        ops.append(Op("fit_video"))
    elif not any(o.kind == "title" for o in ops) and (wanted := _wanted_length(norm)):
        ops.append(Op("length", wanted))
    if _CALMER.search(norm):
        ops.append(Op("energy", -1))
    elif _UPBEAT.search(norm):
        ops.append(Op("energy", 1))
    return ops


def understand(text: str, has_music: bool, has_video: bool, *, title_chars: int = TITLE_CHARS) -> Understood:
    """Classify one user message against the current timeline; a title is cut to `title_chars`."""
    norm = normalise(text)
    zh = bool(_CJK.search(text))
    if _REPLACE.search(norm) or (_GENERATE.search(norm) and not has_music):
        return Understood("generate", text, zh, replace=has_music)
    ops = _edit_ops(text, norm, min(title_chars, TITLE_CHARS))
    if ops:
        music_ops = [o for o in ops if o.kind != "title"]
        if music_ops and not has_music:
            if not any(o.kind == "title" for o in ops):
                return (
                    Understood("generate", text, zh)
                    if _MUSIC_WORDS.search(norm)
                    else Understood("chat", text, zh, topic="no_music")
                )
            ops = [o for o in ops if o.kind == "title"]
        if any(o.kind == "fit_video" for o in ops) and not has_video:
            return Understood("chat", text, zh, topic="no_video")
        return Understood("edit", text, zh, ops=ops)
    if _GENERATE.search(norm):
        return Understood("generate", text, zh, replace=has_music)
    if _EXPORT.search(norm):
        return Understood("chat", text, zh, topic="export")
    if _STATUS.search(norm):
        return Understood("chat", text, zh, topic="status")
    if _MUSIC_WORDS.search(norm) and not has_music:
        return Understood("generate", text, zh)
    return Understood("chat", text, zh, topic="help")
