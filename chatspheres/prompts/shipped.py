"""The prompts ChatSpheres ships with: the house deck and a deck for each demo sphere.

All of our own writing. Each is an open question or an invitation to tell a
story, never something that can be answered yes or no. Depth 1 is a warm-up,
2 goes deeper, 3 is personal. ``prompts_load_shipped`` (services) loads them,
and loading again changes nothing.
"""

from __future__ import annotations

HOUSE_DECK_NAME = "House deck"

HOUSE_PROMPTS: list[tuple[int, str]] = [
    # 1. Warm-up
    (1, "What did the last hour of your day look like before this call?"),
    (1, "What is something small you are looking forward to this week?"),
    (1, "Which app, tool or gadget would you miss most if it vanished tomorrow, and why?"),
    (1, "What is the best thing you ate recently? Describe it so I can taste it."),
    (1, "Tell me about the place you are calling from right now."),
    (1, "What is a topic you could talk about for an hour without notes?"),
    (1, "What made you laugh out loud recently?"),
    (1, "What does a perfect lazy Sunday look like for you?"),
    (1, "Which season suits you best, and what do you do in it?"),
    (1, "What is a recommendation (a film, a song, a place) you give everyone?"),
    # 2. Deeper
    (2, "Tell me about a time a stranger changed the course of your day."),
    (2, "What is something you believed as a teenager that you see differently now?"),
    (2, "Which skill took you the longest to learn, and what kept you going?"),
    (2, "Tell me about a place that shaped who you are."),
    (2, "What is a piece of advice you ignored and later wished you had taken?"),
    (2, "How do you like to spend time when nobody expects anything from you?"),
    (2, "What is a small habit that quietly makes your life better?"),
    (2, "Tell me about a risk you took that paid off in an unexpected way."),
    (2, "What kind of problem do friends usually bring to you, and why you?"),
    (2, "What is something you are proud of that would never fit on a CV?"),
    # 3. Personal
    (3, "Tell me about a moment when you felt truly understood by someone."),
    (3, "What are you still learning to forgive yourself for?"),
    (3, "Which person from your past would you most like to thank, and for what?"),
    (3, "What does a good life look like to you these days?"),
    (3, "Tell me about a time you changed your mind about someone."),
    (3, "What is something you wish more people asked you about?"),
    (3, "When did you last feel completely at home, and where were you?"),
    (3, "What is a fear you have outgrown, and how did it happen?"),
    (3, "What would you like to be remembered for by the people closest to you?"),
    (3, "Tell me about a hard season of your life and what carried you through it."),
]

# Each demo sphere's own deck, by the sphere's slug (see spheres/demo.py).
SPHERE_PROMPTS: dict[str, list[tuple[int, str]]] = {
    "first-conversations": [
        (1, "What brought you to ChatSpheres today?"),
        (1, "What would you like to talk about next time, with someone new?"),
        (2, "Tell me about the best conversation you have had with a stranger."),
        (3, "What makes it easy or hard for you to open up to someone new?"),
    ],
    "language-exchange": [
        (1, "Which word in the language you are learning do you love the sound of?"),
        (1, "How did you start learning the language you are practising?"),
        (2, "Tell me about a funny misunderstanding you had in another language."),
        (3, "How does speaking another language change the way you feel or behave?"),
    ],
    "book-club": [
        (1, "What are you reading right now, and how did it find you?"),
        (1, "Which book do you press into friends' hands, and what do you tell them?"),
        (2, "Tell me about a character you still think about long after the last page."),
        (3, "Which book arrived at exactly the right moment in your life, and what was going on?"),
    ],
    "makers-and-builders": [
        (1, "What are you building at the moment, and what stage is it at?"),
        (1, "What tool or material do you most enjoy working with?"),
        (2, "Tell me about a project that failed and what it taught you."),
        (3, "What do you hope the things you make say about you?"),
    ],
    "career-changers": [
        (1, "What did you do before, and what are you moving towards?"),
        (2, "What surprised you most when you started thinking about a change?"),
        (2, "Tell me about someone whose path you would love to borrow a page from."),
        (3, "What would you try if you knew nobody would judge the outcome?"),
    ],
    "night-owls": [
        (1, "What keeps you up tonight: work, a baby, a time zone or your own mind?"),
        (1, "What sounds do you hear where you are right now?"),
        (2, "Tell me about the strangest or loveliest thing you have seen late at night."),
        (3, "What thoughts tend to visit you at 3 a.m., and how do you answer them?"),
    ],
    "music-lovers": [
        (1, "What song have you had on repeat lately, and what hooked you?"),
        (1, "Which concert or gig do you still tell people about?"),
        (2, "Tell me about a song that takes you straight back to a particular year."),
        (3, "Which piece of music helped you through something, and how?"),
    ],
    "big-questions": [
        (1, "Which question have you been turning over in your head lately?"),
        (2, "What is something most people believe that you find hard to accept?"),
        (2, "How do you decide what is worth your attention?"),
        (3, "What gives your life meaning when the usual answers feel thin?"),
    ],
    "wellbeing": [
        (1, "What helps you switch off at the end of a day?"),
        (1, "What is one thing you are trying to do a little more of this month?"),
        (2, "Tell me about a change to your routine that made a bigger difference than expected."),
        (3, "How do you know when you need to ask for help, and who do you ask?"),
    ],
    "travel-stories": [
        (1, "Where is the last place you went that surprised you?"),
        (1, "What is the best meal you have had far from home?"),
        (2, "Tell me about a journey that went wrong and became a good story."),
        (3, "Which place would you go back to tomorrow, and who would you want beside you?"),
    ],
}
