"""Words the prompt parser knows, in English and Chinese, and what each one means musically.

Kept as data so that adding a word never touches parsing logic. Longer phrases are matched before shorter
ones (``"lo-fi"`` before ``"fi"``; ``"轻音乐"`` before ``"音乐"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Meaning:
    """What one word says about the music; ``None`` fields say nothing."""

    mood: str | None = None
    genre: str | None = None
    energy: int | None = None
    mode: str | None = None


MOODS: tuple[str, ...] = ("calm", "chill", "happy", "upbeat", "energetic", "epic", "dark", "romantic", "sad")
GENRES: tuple[str, ...] = ("lofi", "ambient", "cinematic", "corporate", "acoustic", "piano", "electronic")

# word -> meaning. English entries match whole words (hyphens and spaces count as separators).
WORDS: dict[str, Meaning] = {
    # calm
    "calm": Meaning(mood="calm", energy=1),
    "relaxing": Meaning(mood="calm", energy=1),
    "relaxed": Meaning(mood="calm", energy=1),
    "peaceful": Meaning(mood="calm", energy=1),
    "soothing": Meaning(mood="calm", energy=1),
    "gentle": Meaning(mood="calm", energy=1),
    "soft": Meaning(mood="calm", energy=2),
    "serene": Meaning(mood="calm", energy=1),
    "tranquil": Meaning(mood="calm", energy=1),
    "quiet": Meaning(mood="calm", energy=1),
    "舒缓": Meaning(mood="calm", energy=1),
    "放松": Meaning(mood="calm", energy=1),
    "安静": Meaning(mood="calm", energy=1),
    "平静": Meaning(mood="calm", energy=1),
    "宁静": Meaning(mood="calm", energy=1),
    "轻柔": Meaning(mood="calm", energy=1),
    "治愈": Meaning(mood="calm", energy=2),
    # chill
    "chill": Meaning(mood="chill", energy=2),
    "chilled": Meaning(mood="chill", energy=2),
    "chillhop": Meaning(mood="chill", genre="lofi", energy=2),
    "mellow": Meaning(mood="chill", energy=2),
    "laid back": Meaning(mood="chill", energy=2),
    "laid-back": Meaning(mood="chill", energy=2),
    "study": Meaning(mood="chill", genre="lofi", energy=2),
    "jazzy": Meaning(mood="chill", genre="lofi", energy=2),
    "轻松": Meaning(mood="chill", energy=2),
    "慵懒": Meaning(mood="chill", energy=2),
    # happy
    "happy": Meaning(mood="happy", energy=4, mode="major"),
    "joyful": Meaning(mood="happy", energy=4, mode="major"),
    "cheerful": Meaning(mood="happy", energy=4, mode="major"),
    "fun": Meaning(mood="happy", energy=4, mode="major"),
    "playful": Meaning(mood="happy", energy=3, mode="major"),
    "sunny": Meaning(mood="happy", energy=3, mode="major"),
    "欢快": Meaning(mood="happy", energy=4, mode="major"),
    "快乐": Meaning(mood="happy", energy=4, mode="major"),
    "愉快": Meaning(mood="happy", energy=4, mode="major"),
    "开心": Meaning(mood="happy", energy=4, mode="major"),
    "活泼": Meaning(mood="happy", energy=4, mode="major"),
    # upbeat
    "upbeat": Meaning(mood="upbeat", energy=4, mode="major"),
    "uplifting": Meaning(mood="upbeat", energy=4, mode="major"),
    "inspiring": Meaning(mood="upbeat", energy=3, mode="major"),
    "inspirational": Meaning(mood="upbeat", energy=3, mode="major"),
    "motivational": Meaning(mood="upbeat", energy=4, mode="major"),
    "bright": Meaning(mood="upbeat", energy=4, mode="major"),
    "positive": Meaning(mood="upbeat", energy=4, mode="major"),
    "轻快": Meaning(mood="upbeat", energy=4, mode="major"),
    "积极": Meaning(mood="upbeat", energy=4, mode="major"),
    "励志": Meaning(mood="upbeat", energy=4, mode="major"),
    # energetic
    "energetic": Meaning(mood="energetic", energy=5),
    "driving": Meaning(mood="energetic", energy=5),
    "intense": Meaning(mood="energetic", energy=5),
    "powerful": Meaning(mood="energetic", energy=5),
    "action": Meaning(mood="energetic", energy=5),
    "sport": Meaning(mood="energetic", energy=5),
    "sports": Meaning(mood="energetic", energy=5),
    "workout": Meaning(mood="energetic", energy=5),
    "动感": Meaning(mood="energetic", energy=5),
    "激昂": Meaning(mood="energetic", energy=5),
    "活力": Meaning(mood="energetic", energy=5),
    "激情": Meaning(mood="energetic", energy=5),
    "热血": Meaning(mood="energetic", energy=5),
    # epic
    "epic": Meaning(mood="epic", genre="cinematic", energy=5),
    "heroic": Meaning(mood="epic", genre="cinematic", energy=5),
    "grand": Meaning(mood="epic", genre="cinematic", energy=4),
    "majestic": Meaning(mood="epic", genre="cinematic", energy=4),
    "trailer": Meaning(mood="epic", genre="cinematic", energy=5),
    "史诗": Meaning(mood="epic", genre="cinematic", energy=5),
    "宏大": Meaning(mood="epic", genre="cinematic", energy=5),
    "震撼": Meaning(mood="epic", genre="cinematic", energy=5),
    "大气": Meaning(mood="epic", genre="cinematic", energy=4),
    # dark
    "dark": Meaning(mood="dark", mode="minor"),
    "moody": Meaning(mood="dark", mode="minor"),
    "tense": Meaning(mood="dark", mode="minor", energy=3),
    "suspense": Meaning(mood="dark", mode="minor", energy=3),
    "suspenseful": Meaning(mood="dark", mode="minor", energy=3),
    "mysterious": Meaning(mood="dark", mode="minor", energy=2),
    "ominous": Meaning(mood="dark", mode="minor", energy=2),
    "horror": Meaning(mood="dark", mode="minor", energy=2),
    "黑暗": Meaning(mood="dark", mode="minor"),
    "暗黑": Meaning(mood="dark", mode="minor"),
    "紧张": Meaning(mood="dark", mode="minor", energy=3),
    "悬疑": Meaning(mood="dark", mode="minor", energy=2),
    "神秘": Meaning(mood="dark", mode="minor", energy=2),
    # romantic
    "romantic": Meaning(mood="romantic", energy=2),
    "love": Meaning(mood="romantic", energy=2),
    "tender": Meaning(mood="romantic", energy=2),
    "wedding": Meaning(mood="romantic", energy=2, mode="major"),
    "浪漫": Meaning(mood="romantic", energy=2),
    "爱情": Meaning(mood="romantic", energy=2),
    "温柔": Meaning(mood="romantic", energy=2),
    "温馨": Meaning(mood="romantic", energy=2, mode="major"),
    "婚礼": Meaning(mood="romantic", energy=2, mode="major"),
    # sad
    "sad": Meaning(mood="sad", energy=1, mode="minor"),
    "melancholic": Meaning(mood="sad", energy=1, mode="minor"),
    "melancholy": Meaning(mood="sad", energy=1, mode="minor"),
    "emotional": Meaning(mood="sad", energy=2, mode="minor"),
    "nostalgic": Meaning(mood="sad", energy=2),
    "悲伤": Meaning(mood="sad", energy=1, mode="minor"),
    "伤感": Meaning(mood="sad", energy=1, mode="minor"),
    "忧伤": Meaning(mood="sad", energy=1, mode="minor"),
    "怀旧": Meaning(mood="sad", energy=2),
    # genres
    "lo-fi": Meaning(genre="lofi"),
    "lofi": Meaning(genre="lofi"),
    "lo fi": Meaning(genre="lofi"),
    "hip hop": Meaning(genre="lofi"),
    "hip-hop": Meaning(genre="lofi"),
    "低保真": Meaning(genre="lofi"),
    "ambient": Meaning(genre="ambient", energy=1),
    "atmospheric": Meaning(genre="ambient", energy=1),
    "meditation": Meaning(genre="ambient", mood="calm", energy=1),
    "spa": Meaning(genre="ambient", mood="calm", energy=1),
    "sleep": Meaning(genre="ambient", mood="calm", energy=1),
    "drone": Meaning(genre="ambient", energy=1),
    "氛围": Meaning(genre="ambient", energy=1),
    "环境音乐": Meaning(genre="ambient", energy=1),
    "冥想": Meaning(genre="ambient", mood="calm", energy=1),
    "cinematic": Meaning(genre="cinematic"),
    "film": Meaning(genre="cinematic"),
    "movie": Meaning(genre="cinematic"),
    "orchestral": Meaning(genre="cinematic"),
    "orchestra": Meaning(genre="cinematic"),
    "电影": Meaning(genre="cinematic"),
    "影视": Meaning(genre="cinematic"),
    "管弦": Meaning(genre="cinematic"),
    "corporate": Meaning(genre="corporate", mood="upbeat"),
    "business": Meaning(genre="corporate", mood="upbeat"),
    "presentation": Meaning(genre="corporate"),
    "commercial": Meaning(genre="corporate", mood="upbeat"),
    "advertising": Meaning(genre="corporate", mood="upbeat"),
    "tech": Meaning(genre="corporate"),
    "商务": Meaning(genre="corporate", mood="upbeat"),
    "企业": Meaning(genre="corporate", mood="upbeat"),
    "科技": Meaning(genre="corporate"),
    "广告": Meaning(genre="corporate", mood="upbeat"),
    "acoustic": Meaning(genre="acoustic"),
    "folk": Meaning(genre="acoustic"),
    "unplugged": Meaning(genre="acoustic"),
    "原声": Meaning(genre="acoustic"),
    "民谣": Meaning(genre="acoustic"),
    "piano": Meaning(genre="piano"),
    "solo piano": Meaning(genre="piano"),
    "钢琴": Meaning(genre="piano"),
    "轻音乐": Meaning(genre="piano", mood="calm", energy=2),
    "electronic": Meaning(genre="electronic"),
    "electro": Meaning(genre="electronic"),
    "edm": Meaning(genre="electronic", energy=5),
    "synthwave": Meaning(genre="electronic"),
    "techno": Meaning(genre="electronic", energy=5),
    "house": Meaning(genre="electronic", energy=4),
    "dance": Meaning(genre="electronic", energy=5),
    "电子": Meaning(genre="electronic"),
    "电音": Meaning(genre="electronic", energy=5),
}

# Tempo words: (label, absolute BPM or None, relative factor).
TEMPO_WORDS: dict[str, tuple[int | None, float]] = {
    "very slow": (60, 1.0),
    "slow": (None, 0.82),
    "slower": (None, 0.85),
    "slowly": (None, 0.85),
    "moderate": (None, 1.0),
    "medium tempo": (None, 1.0),
    "mid-tempo": (None, 1.0),
    "fast": (None, 1.2),
    "faster": (None, 1.15),
    "quick": (None, 1.15),
    "uptempo": (None, 1.2),
    "up-tempo": (None, 1.2),
    "very fast": (150, 1.0),
    "慢": (None, 0.82),
    "慢节奏": (None, 0.82),
    "缓慢": (None, 0.82),
    "快": (None, 1.2),
    "快节奏": (None, 1.2),
    "中速": (None, 1.0),
}

# Instrument words -> canonical instrument names the arranger understands.
INSTRUMENT_WORDS: dict[str, str] = {
    "piano": "piano",
    "钢琴": "piano",
    "electric piano": "electric piano",
    "rhodes": "electric piano",
    "电钢琴": "electric piano",
    "guitar": "guitar",
    "acoustic guitar": "guitar",
    "吉他": "guitar",
    "strings": "strings",
    "string": "strings",
    "violin": "strings",
    "cello": "strings",
    "弦乐": "strings",
    "小提琴": "strings",
    "大提琴": "strings",
    "synth": "synth",
    "synths": "synth",
    "synthesizer": "synth",
    "合成器": "synth",
    "pad": "pad",
    "pads": "pad",
    "bass": "bass",
    "贝斯": "bass",
    "drums": "drums",
    "drum": "drums",
    "beat": "drums",
    "beats": "drums",
    "鼓": "drums",
    "flute": "flute",
    "长笛": "flute",
    "笛子": "flute",
    "brass": "brass",
    "horns": "brass",
    "trumpet": "brass",
    "铜管": "brass",
    "choir": "choir",
    "合唱": "choir",
    "bells": "bells",
    "glockenspiel": "bells",
    "铃": "bells",
    "marimba": "marimba",
    "harp": "harp",
    "竖琴": "harp",
    "saxophone": "sax",
    "sax": "sax",
    "萨克斯": "sax",
    "vibraphone": "vibes",
    "vibes": "vibes",
}

NO_DRUMS_PHRASES: tuple[str, ...] = (
    "no drums",
    "without drums",
    "no percussion",
    "without percussion",
    "drumless",
    "无鼓",
    "不要鼓",
    "没有鼓",
)

# When the prompt names only a mood or only a genre, the other is chosen from these.
GENRE_FOR_MOOD: dict[str, str] = {
    "calm": "piano",
    "chill": "lofi",
    "happy": "acoustic",
    "upbeat": "corporate",
    "energetic": "electronic",
    "epic": "cinematic",
    "dark": "cinematic",
    "romantic": "piano",
    "sad": "piano",
}
MOOD_FOR_GENRE: dict[str, str] = {
    "lofi": "chill",
    "ambient": "calm",
    "cinematic": "epic",
    "corporate": "upbeat",
    "acoustic": "happy",
    "piano": "calm",
    "electronic": "energetic",
}
DEFAULT_MOOD = "chill"
DEFAULT_GENRE = "lofi"


#: A prompt asking for a track that rises ("cinematic build-up", "a slow crescendo", "渐强").
BUILD_UP = re.compile(r"build(?:s|ing)?[\s-]*up|crescendo|swell(?:s|ing)?|(?<![a-z])rising|渐强|递进|铺垫")
