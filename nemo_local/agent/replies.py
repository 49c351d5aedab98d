"""What the agent says, in English or Chinese. It speaks as if the user had the editor on screen
("click Export"), as the real service does; the provider maps those phrases to API calls."""

from __future__ import annotations

from typing import Any


def _s(ms: int | float) -> str:
    return f"{float(ms) / 1000:g}"


def composing(plan: dict[str, Any], zh: bool, replace: bool) -> str:
    dur = f"{plan['duration_s']:g}"
    desc = f"{plan['mood']} {plan['genre']}"
    key = f"{plan['key']} {plan['mode']}"
    if zh:
        verb = "正在重新创作" if replace else "正在创作"
        return f"{verb}一首{dur}秒的{desc}音乐（{key}）……"
    verb = "Composing a new track" if replace else "Composing your track"
    return f"{verb}: {dur} s of {desc} in {key}…"


def generated(meta: dict[str, Any], zh: bool) -> str:
    if zh:
        return (
            f"已将《{meta['title']}》（{_s(meta['duration_ms'])}秒，{meta['bpm']} BPM，{meta['key']}）添加到时间线的音乐轨道。"
            "可以在时间线中预览，满意的话点击导出即可下载。"
        )
    return (
        f'Added "{meta["title"]}" ({_s(meta["duration_ms"])} s, {meta["bpm"]} BPM, {meta["key"]}) to the music '
        "track of your timeline. Preview it in the timeline, then click Export to download it."
    )


def _change(change: dict[str, Any], zh: bool) -> str:
    op, value = change["op"], change.get("value")
    if op == "volume" or op == "volume_scale":
        pct = round(float(change["volume"]) * 100)
        return f"音乐音量设为 {pct}%" if zh else f"set the music volume to {pct}%"
    if op in ("fade_in", "fade_out"):
        word = ("淡入" if op == "fade_in" else "淡出") if zh else op.replace("_", "-")
        return f"添加了 {value:g} 秒{word}" if zh else f"added a {value:g} s {word}"
    if op == "title":
        return (
            f"添加了标题“{change['text']}”（{value:g} 秒）"
            if zh
            else f'added the title "{change["text"]}" for {value:g} s'
        )
    if op in ("length", "fit_video"):
        return f"音乐时长改为 {value:g} 秒" if zh else f"changed the music to {value:g} s"
    if op == "energy":
        calmer = float(value or 0) < 0
        if zh:
            return "让音乐更舒缓" if calmer else "让音乐更欢快"
        return "made the music calmer" if calmer else "made the music more upbeat"
    return op


def edited(changes: list[dict[str, Any]], zh: bool) -> str:
    listed = "，".join(_change(c, zh) for c in changes) if zh else ", ".join(_change(c, zh) for c in changes)
    if zh:
        return f"好的，已{listed}。在时间线中预览效果，点击导出即可下载。"
    return f"Done: {listed}. Preview it in the timeline, or click Export to download."


def chat(topic: str, zh: bool, timeline: str) -> str:
    texts = {
        "help": (
            "Hi! Tell me what background music you need: mood, length, and where it will play. "
            "For example: “generate a calm lo-fi track for a 60-second product video”.",
            "你好！告诉我你需要什么样的背景音乐：情绪、时长、用在哪里。例如：“生成一段60秒的舒缓钢琴音乐”。",
        ),
        "export": (
            "Your timeline is ready. Click Export to download it.",
            "时间线已准备好，点击导出即可下载。",
        ),
        "status": (f"{timeline}. Open the timeline to preview it.", f"{timeline}。打开时间线即可预览。"),
        "no_music": (
            "There is no music on the timeline yet. Tell me what to generate first, e.g. “a calm lo-fi track”.",
            "时间线上还没有音乐。请先告诉我要生成什么样的音乐，例如“舒缓的钢琴音乐”。",
        ),
        "no_video": (
            "There is no video on the timeline yet. Upload a video first, then ask me again.",
            "时间线上还没有视频。请先上传视频，然后再告诉我。",
        ),
    }
    en, cn = texts.get(topic, texts["help"])
    return cn if zh else en


def failed(zh: bool) -> str:
    return (
        "抱歉，音乐生成失败了，积分已退回。请再试一次。"
        if zh
        else "Sorry, composing failed; your credits were returned. Please try again."
    )
