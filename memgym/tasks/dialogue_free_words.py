"""Word pools of :mod:`memgym.tasks.dialogue_free`: happenings, paraphrase templates and
chit-chat. Every pool is split by :func:`memgym.tasks.base.split_pool`, so held-out streams
use templates, objects and places that training streams never saw. Written for this task (no
benchmark text is copied)."""

from __future__ import annotations

#: A happening: what the teller says they did (``did``), its base form for questions
#: (``base``), the what / when question templates, and the objects it can be about.
HAPPENINGS: tuple[dict, ...] = (
    {"did": "adopted {obj}", "base": "adopt {obj}", "what": "What pet did {who} adopt?",
     "when": "When did {who} adopt {obj}?",
     "objects": ("a corgi", "a tabby kitten", "a parrot", "a beagle", "a rescue greyhound",
                 "two goldfish", "a hamster", "a husky puppy", "a tortoise", "a ferret",
                 "a black labrador", "a bunny", "a cockatiel", "a siamese cat", "a pug")},
    {"did": "visited {obj}", "base": "visit {obj}", "what": "Which city did {who} visit?",
     "when": "When did {who} visit {obj}?",
     "objects": ("Lisbon", "Kyoto", "Marrakesh", "Reykjavik", "Cape Town", "Montreal", "Hanoi",
                 "Seville", "Krakow", "Valparaiso", "Tallinn", "Cusco", "Porto", "Busan",
                 "Edinburgh", "Zanzibar", "Bergen", "Tbilisi")},
    {"did": "signed up for {obj} classes", "base": "sign up for {obj} classes",
     "what": "What classes did {who} sign up for?",
     "when": "When did {who} sign up for {obj} classes?",
     "objects": ("pottery", "salsa", "watercolour", "kickboxing", "sign language", "ceramics",
                 "improv", "swing dance", "calligraphy", "woodworking", "archery", "yoga",
                 "glassblowing", "screen printing", "jiu-jitsu")},
    {"did": "ran {obj}", "base": "run {obj}", "what": "What race did {who} run?",
     "when": "When did {who} run {obj}?",
     "objects": ("a half marathon", "a charity 10k", "a trail ultra", "a night 5k",
                 "a relay marathon", "a mud run", "a beach 8k", "a hill race", "a fun run",
                 "a triathlon", "a canal 15k", "a parkrun")},
    {"did": "started learning {obj}", "base": "start learning {obj}",
     "what": "What instrument did {who} start learning?",
     "when": "When did {who} start learning {obj}?",
     "objects": ("the cello", "the ukulele", "the drums", "the banjo", "the harp",
                 "the saxophone", "the violin", "the accordion", "the trumpet", "the piano",
                 "the flute", "the mandolin", "the bass guitar")},
    {"did": "got a job at {obj}", "base": "get a job at {obj}",
     "what": "Where did {who} get a new job?", "when": "When did {who} get a job at {obj}?",
     "objects": ("a bakery", "the city library", "a bike shop", "a vet clinic",
                 "a bookshop", "a museum", "an animal shelter", "a coffee roastery",
                 "a climbing gym", "a flower shop", "a recording studio", "a startup",
                 "the botanical garden", "a school")},
    {"did": "finished reading {obj}", "base": "finish reading {obj}",
     "what": "What book did {who} finish reading?",
     "when": "When did {who} finish reading {obj}?",
     "objects": ("The Silent Orchard", "Salt and Stars", "A Map of Small Things",
                 "The Glass Harbour", "Winter Bees", "The Last Lighthouse", "Paper Rivers",
                 "Echoes of Clay", "The Copper Fox", "Nine Lanterns", "The Wandering Fern",
                 "Blue Hour")},
    {"did": "bought {obj}", "base": "buy {obj}", "what": "What did {who} buy?",
     "when": "When did {who} buy {obj}?",
     "objects": ("a vintage camera", "a kayak", "an e-bike", "a telescope", "a record player",
                 "a sewing machine", "a tent", "a pizza oven", "a drone", "a hammock",
                 "a standing desk", "a pottery wheel")},
)
#: How a teller opens a happening; ``{did}`` past tense, ``{when}`` a relative time.
TELL_TEMPLATES: tuple[str, ...] = (
    "Guess what, I {did} {when}!", "So {when} I finally {did}, still buzzing about it.",
    "Big news: I {did} {when}.", "I {did} {when} and honestly it was the best decision.",
    "Oh I forgot to tell you, I {did} {when}.", "{when} I {did}! Can you believe it?",
    "You won't believe it but I {did} {when}.", "Not sure if I told you, I {did} {when}.",
    "Random update: I {did} {when}, feels so good.", "Okay so I {did} {when} haha",
    "I took the plunge and {did} {when}.", "Something fun, I {did} {when}!",
    "Just wanted to share that I {did} {when}.", "Life update! I {did} {when}.",
    "I {did} {when}, it made my whole week.", "Well, I {did} {when}, wild right?",
)
#: A follow-up with a place or a friend (a second evidence turn).
DETAIL_TEMPLATES: tuple[str, ...] = (
    "It was at {place}, such a lovely spot.", "We did it near {place}, you'd love it there.",
    "My friend {friend} came along, which made it even better.",
    "{friend} was with me the whole time, so much fun.", "The whole thing happened at {place}.",
    "I went with {friend}, we laughed all day.", "It was over at {place}, not far from home.",
    "{friend} convinced me to do it, honestly.", "Right next to {place}, believe it or not.",
    "I dragged {friend} along and they loved it too.",
)
PLACES: tuple[str, ...] = (
    "the old harbour", "Maple Park", "the community centre", "the riverside market",
    "the north beach", "Elm Street", "the university campus", "the town square",
    "the botanical gardens", "Pine Hill", "the lakeside", "the art district",
    "the train station", "Cedar Grove", "the waterfront", "the old mill",
)
FRIENDS: tuple[str, ...] = (
    "Marta", "Jules", "Tariq", "Ines", "Bo", "Leon", "Mei", "Sanne", "Idris", "Pia", "Noel",
    "Rosa", "Emeka", "Astrid", "Caio", "Lotte",
)
#: (expression, days before the session date).
RELATIVE_DAYS: tuple[tuple[str, int], ...] = (
    ("yesterday", 1), ("today", 0), ("this morning", 0), ("two days ago", 2),
    ("three days ago", 3), ("last night", 1), ("a week ago", 7), ("on Saturday", 2),
    ("over the weekend", 2), ("the day before yesterday", 2), ("last week", 7),
)
REACTIONS: tuple[str, ...] = (
    "No way! That's awesome.", "Wow, I'm so happy for you!", "That's amazing, how was it?",
    "Haha, love that for you.", "Oh nice, you deserve it!", "Whoa, tell me everything.",
    "That sounds like so much fun!", "Congrats!! Send pics.", "So cool, I'm a bit jealous.",
    "Omg yes, finally!", "That's wonderful news.", "Ha, I knew you'd do it eventually.",
    "Sounds incredible, was it scary?", "Yay! How do you feel?", "Brilliant, well done you.",
    "Oh wow, that's a big step.",
)
CHITCHAT: tuple[str, ...] = (
    "Hey! Long time no talk, how have you been?", "Hi! I'm good, just busy with work.",
    "Haha same here, the week flew by.", "How's everything on your end?",
    "Not much, just trying to relax a bit.", "The weather has been so gloomy lately.",
    "Right? I just want some sunshine.", "I made pasta last night, nothing fancy.",
    "That sounds cozy honestly.", "Work is a bit crazy but manageable.",
    "I hear you, hang in there.", "Did you watch anything good recently?",
    "Not really, I keep falling asleep on the couch lol.", "Same, I'm always so tired.",
    "Anyway, what's new with you?", "Oh you know, the usual.", "I totally agree.",
    "That makes sense.", "Haha true.", "I know, right?", "Take care of yourself!",
    "Talk soon, okay?", "Miss our chats!", "Let's catch up again next week.",
    "I've been drinking way too much coffee.", "Ugh, the people next door are so loud again.",
    "Honestly I just need a nap.", "It's been a weird week.", "Aw, thanks for asking!",
    "That's so sweet of you.", "Can't complain really.", "Sounds like a plan!",
    "Ugh, Mondays.", "Have a great evening!", "Same old, same old.",
    "I'm trying to eat healthier, it's hard.", "We should plan something fun soon.",
    "Haha you always make me laugh.", "I was just thinking about you!", "Good night!",
    "Sorry for the late reply, things got hectic.", "No worries at all.",
    "What are you up to this weekend?", "Probably nothing, maybe some cleaning.",
)
