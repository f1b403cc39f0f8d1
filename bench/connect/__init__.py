"""Connecting: time from "both can see themselves and pressed Join call" to both seeing each other.

Two headless Chromium browsers (one per person, fake camera and microphone)
use the real call page against a real ChatSpheres server, and, interleaved in
the same run, a bare page pair that connects with the least signaling possible
(the floor). Run with ``python -m bench.connect [--quick]``.
"""
