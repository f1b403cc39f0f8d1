"""The spheres and interest suggestions a new ChatSpheres site starts with."""

from __future__ import annotations

import math

DEMO_SPHERES: list[dict[str, str]] = [
    {
        "slug": "first-conversations",
        "name": "First Conversations",
        "tagline": "New here? Meet someone else who is new here too.",
        "description": (
            "A gentle place to try ChatSpheres. Everyone in this sphere has just "
            "arrived, so nobody expects you to be witty. Say where you are calling "
            "from, what brought you here, and what you hope to talk about next time."
        ),
    },
    {
        "slug": "language-exchange",
        "name": "Language Exchange",
        "tagline": "Practise the language you are learning with someone who speaks it.",
        "description": (
            "Put the languages you speak and the ones you are learning in your "
            "interests, and we pair you with someone who can help. Split the time: "
            "fifteen minutes in one language, fifteen in the other. Mistakes welcome."
        ),
    },
    {
        "slug": "book-club",
        "name": "Book Club",
        "tagline": "Talk about the book you cannot stop thinking about.",
        "description": (
            "Fiction, essays, poetry, the manual you finally read. Tell someone what "
            "you are reading and why it stuck, and leave with a recommendation you "
            "would never have found on your own."
        ),
    },
    {
        "slug": "makers-and-builders",
        "name": "Makers & Builders",
        "tagline": "Side projects, startups and things you make with your hands.",
        "description": (
            "Show what you are building (software, furniture, a garden, a band) and "
            "hear what someone else is stuck on. Good for rubber-ducking a problem, "
            "finding a collaborator or just being impressed."
        ),
    },
    {
        "slug": "career-changers",
        "name": "Career Changers",
        "tagline": "Thinking of a new path? Talk to someone who took one.",
        "description": (
            "For people switching fields, returning to work or wondering whether to. "
            "Compare notes on what the move was really like, what you would do "
            "differently, and what nobody tells you beforehand."
        ),
    },
    {
        "slug": "night-owls",
        "name": "Night Owls",
        "tagline": "Awake when everyone else is asleep.",
        "description": (
            "Late shift, new baby, different time zone or simply wired: here is "
            "someone else who is up. Conversations here tend to wander, and that is "
            "the point."
        ),
    },
    {
        "slug": "music-lovers",
        "name": "Music Lovers",
        "tagline": "Swap the songs that shaped you.",
        "description": (
            "Bring a song you have had on repeat and the story behind it. Players, "
            "listeners and people who only sing in the shower are equally welcome."
        ),
    },
    {
        "slug": "big-questions",
        "name": "Big Questions",
        "tagline": "Philosophy, science and the things we wonder about at 2 a.m.",
        "description": (
            "What makes a good life? Is free will real? Will we ever talk to whales? "
            "Pick a question, disagree kindly, and change your mind at least once."
        ),
    },
    {
        "slug": "wellbeing",
        "name": "Wellbeing",
        "tagline": "Habits, rest, movement and staying sane.",
        "description": (
            "Talk through what helps you sleep, move, focus or slow down, and what "
            "you are trying next. Peer conversation, not medical advice; be kind."
        ),
    },
    {
        "slug": "travel-stories",
        "name": "Travel Stories",
        "tagline": "Where you have been, where you dream of going.",
        "description": (
            "Trade the best meal you had abroad, the train you almost missed and the "
            "place you would go back to tomorrow. Locals showing off their own town "
            "count too."
        ),
    },
]

DEMO_INTERESTS: list[str] = [
    "books",
    "cooking",
    "design",
    "entrepreneurship",
    "film",
    "gaming",
    "hiking",
    "history",
    "languages",
    "music",
    "parenting",
    "philosophy",
    "photography",
    "programming",
    "psychology",
    "running",
    "science",
    "travel",
    "writing",
    "yoga",
]

# A plausible past for each demo sphere, so a fresh site already says when a
# sphere is usually busy: the hour of the day (UTC) its conversations peak,
# and how many it has had. One has too few to say anything yet.
DEMO_HISTORY: dict[str, tuple[int, int]] = {
    "first-conversations": (19, 64),
    "language-exchange": (17, 90),
    "book-club": (20, 45),
    "makers-and-builders": (18, 40),
    "career-changers": (12, 26),
    "night-owls": (3, 35),
    "music-lovers": (21, 30),
    "big-questions": (22, 20),
    "wellbeing": (7, 15),
    "travel-stories": (16, 6),
}
# The demo history is spread over this many weeks, for its recent weight.
DEMO_HISTORY_WEEKS = 4


def demo_week_hours(peak_hour_utc: int, conversations: int) -> list[int]:
    """``conversations`` spread over the hours of a week, around the peak, busier at weekends."""
    weights = []
    for day in range(7):
        for hour in range(24):
            distance = min(abs(hour - peak_hour_utc), 24 - abs(hour - peak_hour_utc))
            weights.append(math.exp(-((distance / 2.5) ** 2)) * (1.3 if day >= 5 else 1.0))
    shares = [conversations * weight / sum(weights) for weight in weights]
    counts = [math.floor(share) for share in shares]
    # Largest remainders first, so the counts add up to exactly ``conversations``.
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for index in by_remainder[: conversations - sum(counts)]:
        counts[index] += 1
    return counts
