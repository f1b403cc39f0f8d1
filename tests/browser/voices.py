"""WAV files that speak a known share of the time, for Chromium's fake microphone.

Shared by the talk balance journey (tests/browser/test_meter_journey.py) and
bench/meter: ``--use-file-for-fake-audio-capture=<path>`` loops the file.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 48_000
PERIOD_SECONDS = 5


def write_voice(path: Path, speaking: float) -> None:
    """A loop of PERIOD_SECONDS: a warbling tone for ``speaking`` of it, then silence."""
    frames = bytearray()
    on = int(RATE * PERIOD_SECONDS * speaking)
    for index in range(RATE * PERIOD_SECONDS):
        value = 0.0
        if index < on:
            t = index / RATE
            # A pitch that moves like a voice, so no noise suppressor takes it for a hum.
            pitch = 220 + 60 * math.sin(2 * math.pi * 3 * t)
            loudness = 0.75 + 0.25 * math.sin(2 * math.pi * 5 * t)
            value = 0.3 * math.sin(2 * math.pi * pitch * t) * loudness
        frames += struct.pack("<h", int(value * 32767))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))


def voice_flags(path: Path) -> list[str]:
    """Chromium flags for a microphone that plays ``path`` (and an AudioContext that may start)."""
    return [
        f"--use-file-for-fake-audio-capture={path}",
        "--autoplay-policy=no-user-gesture-required",
    ]
