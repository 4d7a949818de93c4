"""Word pools of the dialogue task: speakers, persona attributes and values, events, and the
turn / question templates (each split gets its own disjoint share, see
:func:`memgym.tasks.base.split_pool`)."""

from __future__ import annotations

FIRST_NAMES = (
    "Ava Ben Chloe Diego Ella Finn Grace Hiro Isla Jonas Kai Leah Mateo Nora Omar Priya Rafael "
    "Sofia Theo Una Vikram Willa Xavier Yara Zane Amara Bruno Celia Dario Esme Felix Greta "
    "Hassan Ingrid Jasper Kenji Lucia Marcus Nadia Oscar Paloma Ruben Selma Tobias"
).split()
LAST_NAMES = (
    "Alvarez Bennett Chen Dlamini Eriksen Fischer Garcia Hughes Iqbal Jensen Kim Lopez Mendes "
    "Nguyen Ortiz Park Quinn Rahman Santos Torres Ueda Vance Walsh Xu Young Zhang Abbott Baker "
    "Castro Dixon Evans Flores Grant Holm Ivanova Jovanovic Kovacs Larsen Mbeki Nilsson Olsen "
    "Pereira Reid Schmidt"
).split()
#: Persona attributes (names shared by all splits) and their values (split-disjoint).
PERSONA_VALUES: dict[str, list[str]] = {
    "favourite food": (
        "ramen|sushi|paella|lasagne|tacos|curry|dumplings|risotto|falafel|pho|burritos|"
        "moussaka|goulash|pierogi|kimchi|biryani|gnocchi|ceviche|shakshuka|couscous|pad thai|"
        "bibimbap|empanadas|croissants|pancakes|waffles|nachos|hummus|tempura|udon|laksa|"
        "jollof rice|poutine|fondue|gyoza|samosas"
    ).split("|"),
    "city": (
        "Denver|Austin|Boise|Tucson|Omaha|Tulsa|Reno|Dayton|Akron|Fresno|Spokane|Tacoma|"
        "Eugene|Madison|Duluth|Toledo|Raleigh|Durham|Savannah|Macon|Miami|Tampa|Orlando|Boston|"
        "Chicago|Seattle|Portland|Phoenix|Houston|Dallas|Memphis|Nashville|Richmond|Norfolk|"
        "Buffalo|Albany"
    ).split("|"),
    "job": (
        "nursing|teaching|plumbing|accounting|carpentry|journalism|dentistry|architecture|"
        "farming|banking|catering|tailoring|welding|pharmacy|surveying|translation|animation|"
        "bookkeeping|copywriting|landscaping|physiotherapy|radiology|locksmithing|insurance|"
        "logistics|publishing|real estate|software testing|veterinary care|firefighting|"
        "interior design|event planning|court reporting|sound engineering"
    ).split("|"),
    "hobby": (
        "chess|archery|fencing|sailing|knitting|birdwatching|rowing|origami|calligraphy|"
        "climbing|surfing|gardening|cycling|yoga|judo|tango|salsa dancing|woodworking|"
        "photography|stargazing|fishing|hiking|skating|bowling|darts|crosswords|geocaching|"
        "quilting|embroidery|kite flying|trail running|board games|model trains|scrapbooking"
    ).split("|"),
    "favourite drink": (
        "espresso|matcha|lemonade|kombucha|chai|cocoa|mojito|lassi|horchata|root beer|iced tea|"
        "ginger ale|oolong|rooibos|cold brew|latte|cappuccino|smoothies|milkshakes|"
        "sparkling water|orange juice|mango juice|eggnog|mulled wine|sangria|bubble tea|kefir|"
        "yerba mate|hibiscus tea|coconut water|limeade|americano|mocha|flat white"
    ).split("|"),
    "favourite instrument": (
        "piano|violin|cello|banjo|ukulele|harp|flute|oboe|clarinet|trumpet|trombone|tuba|"
        "saxophone|accordion|harmonica|drums|bass guitar|mandolin|sitar|bagpipes|marimba|"
        "xylophone|bassoon|piccolo|viola|double bass|tambourine|bongos|synthesizer|theremin|"
        "lute|dulcimer|kazoo|glockenspiel"
    ).split("|"),
}
#: Events as (question verb phrase, turn verb phrase); distinctive nouns shared by both.
EVENTS = [tuple(e.split("/")) for e in (
    "adopt a puppy/adopted a puppy|buy a kayak/bought a kayak|run a marathon/ran a marathon|"
    "start pottery classes/started pottery classes|visit the aquarium/visited the aquarium|"
    "join a choir/joined a choir|repaint the kitchen/repainted the kitchen|"
    "plant a vegetable patch/planted a vegetable patch|sell the motorbike/sold the motorbike|"
    "learn to juggle/learned to juggle|bake a wedding cake/baked a wedding cake|"
    "fix the leaky roof/fixed the leaky roof|climb a volcano/climbed a volcano|"
    "pass the driving test/passed the driving test|get a tattoo/got a tattoo|"
    "move into a loft/moved into a loft|adopt a kitten/adopted a kitten|"
    "see the northern lights/saw the northern lights|"
    "finish a novel manuscript/finished a novel manuscript|build a bookshelf/built a bookshelf|"
    "book a trip to Iceland/booked a trip to Iceland|buy a telescope/bought a telescope|"
    "go skydiving/went skydiving|try scuba diving/tried scuba diving|"
    "host a barbecue/hosted a barbecue|record a podcast episode/recorded a podcast episode|"
    "knit a scarf/knitted a scarf|volunteer at the food bank/volunteered at the food bank|"
    "install solar panels/installed solar panels|fly a drone/flew a drone|"
    "meet a famous author/met a famous author|sprain an ankle/sprained an ankle|"
    "grow giant pumpkins/grew giant pumpkins|win a pub quiz/won a pub quiz|"
    "rescue a hedgehog/rescued a hedgehog|renovate the attic/renovated the attic|"
    "get a promotion/got a promotion|paint a mural/painted a mural|"
    "bake sourdough bread/baked sourdough bread|"
    "adopt a rescue greyhound/adopted a rescue greyhound|"
    "visit a lavender farm/visited a lavender farm|ride a camel/rode a camel|"
    "swim across the lake/swam across the lake|build a treehouse/built a treehouse|"
    "restore a vintage radio/restored a vintage radio|"
    "launch a bakery stall/launched a bakery stall|sing at an open mic/sang at an open mic|"
    "land a huge trout/landed a huge trout|plant an orchard/planted an orchard|"
    "buy a sailboat/bought a sailboat|tour a chocolate factory/toured a chocolate factory|"
    "hatch chicks/hatched chicks"
).split("|")]
#: First-person persona statements ({a} attribute, {v} value): ``My <attribute> is <value>``.
PERSONA_TEMPLATES = [
    "My {a} is {v}.", "Oh, my {a} is {v}, by the way.", "Fun fact: my {a} is {v}.",
    "Well, my {a} is {v}.", "For what it is worth, my {a} is {v}.",
    "You know, my {a} is {v}, always has been.", "Honestly, my {a} is {v}.",
    "Since you asked, my {a} is {v}.", "Just so you know, my {a} is {v}.",
    "In case it matters, my {a} is {v}.", "Random thought, but my {a} is {v}.",
    "Not many people know that my {a} is {v}.", "I should add that my {a} is {v}.",
    "To be clear, my {a} is {v}.", "Between us, my {a} is {v}.", "Ha, my {a} is {v}, obviously.",
]
#: Later-session changes of a persona fact (same shape, a change verb).
CHANGE_TEMPLATES = [
    "Actually, my {a} is now {v}.", "Big change: my {a} has changed to {v}.",
    "Update on me, my {a} is now {v}.", "So, as of last month, my {a} became {v}.",
    "Things changed and my {a} is now {v}.", "Guess what, my {a} has become {v}.",
    "New chapter: my {a} was updated to {v}.", "Recently my {a} changed to {v}.",
    "Heads up, my {a} is now {v}.", "Plot twist: my {a} has changed to {v}.",
    "Since last time, my {a} became {v}.", "Oh, and my {a} is now {v}, new beginning.",
    "Life update: my {a} has become {v}.", "Not sure I told you, but my {a} changed to {v}.",
    "Fresh news, my {a} has been updated to {v}.", "These days my {a} is now {v}.",
    "Small news, my {a} changed to {v}.", "I switched things up: my {a} is now {v}.",
    "Quick correction, my {a} has changed to {v}.", "As it turns out, my {a} is now {v}.",
    "After all that, my {a} became {v}.", "Out with the old: my {a} is now {v}.",
    "So yeah, my {a} has been updated to {v}.", "Funny story, my {a} has become {v}.",
    "Starting this month, my {a} is now {v}.", "Remember the old one? My {a} is now {v}.",
]
#: Event turns ({e} the turn verb phrase).
EVENT_TEMPLATES = [
    "Guess what? I {e} today!", "Big news: I {e}.", "So I {e}, it was amazing.",
    "Oh, I {e} this morning.", "You will not believe it, but I {e}.",
    "Today I {e}, still buzzing.", "Small update from me: I {e}.", "I {e}, can you believe it?",
    "Just wanted to share that I {e}.", "Exciting day, I {e}!", "Well, I took the plunge and {e}.",
    "Proud moment: I {e}.", "Okay, so I {e} earlier.", "I {e} and loved every minute.",
    "Done at last: I {e}.", "Guess who {e}? Me!", "This week I {e}, wild.",
    "Ah, I {e} over the weekend.", "Cannot stop smiling, I {e}.", "Crazy day: I {e}.",
    "Oh hey, I {e} recently.", "Happy news, I {e}.", "Sharing some joy: I {e}.",
    "Oh, I {e} over the holidays.", "News flash: I {e}.", "Ta-da, I {e}!",
]
#: Guesses about the OTHER speaker ({s} subject): hedged, wrong values, parse as facts.
GUESS_TEMPLATES = [
    "I think {s}'s {a} is {v}, not sure.", "Wait, {s}'s {a} is {v}, right?",
    "Someone told me {s}'s {a} is {v}, maybe.", "I bet {s}'s {a} is {v}, just a guess.",
    "I could be wrong, but {s}'s {a} is {v}?", "Last I heard, {s}'s {a} was {v}, or so.",
    "Pretty sure {s}'s {a} is {v}, or not?", "I guess {s}'s {a} is {v}, no idea really.",
    "Correct me, but {s}'s {a} is {v}?", "I assumed {s}'s {a} is {v}, silly me.",
    "People say {s}'s {a} is {v}, is that true?", "My guess: {s}'s {a} is {v}, haha.",
    "I always thought {s}'s {a} was {v}, who knows.", "Probably, {s}'s {a} is {v}, right?",
    "I imagine {s}'s {a} is {v}, am I close?", "Somebody said {s}'s {a} is {v}, dunno.",
    "I heard {s}'s {a} is {v}, maybe wrong.", "Not certain, but {s}'s {a} is {v}?",
    "Someone mentioned {s}'s {a} was {v}, unsure.", "I vaguely recall {s}'s {a} is {v}, right?",
    "Rumour is {s}'s {a} is {v}, no clue.", "Hmm, {s}'s {a} is {v}, I suppose?",
]
#: Chit-chat that states no fact: no "my", no possessive, no names.
CHITCHAT = [
    "Haha, that sounds fun!", "Oh wow, really?", "How was your week?", "Nice, tell me more.",
    "I know, right?", "That is so cool.", "Sounds like a plan.", "Ha, classic.",
    "Totally agree with you.", "Anyway, how are you doing?", "Oh no, that is rough.",
    "Good for you!", "I have been so busy lately.", "We should catch up more often.",
    "That made me laugh.", "Wait, seriously?", "Love that for you.", "Same here, honestly.",
    "Let me think about it.", "Fair enough.", "No way!", "What a week it has been.",
    "Hope you are doing well.", "That reminds me of something.", "Cheers to that!",
    "I totally forgot about that.", "Ugh, Mondays.", "Yes, totally!", "Oh, that is interesting.",
    "Long time no talk!", "Hmm, not sure about that.", "You always say that, haha.",
    "It has been ages!", "Well, that escalated quickly.", "Tell me everything.",
    "Awesome, congrats!",
]
#: Persona questions (the possessive chain ends the sentence) and temporal ones ("When ...").
QUESTION_TEMPLATES = [
    "What is {c}?", "Do you know {c}?", "Tell me {c}.", "Which is {c}?", "Can you recall {c}?",
    "Remind me: what is {c}?", "Quick check, what is {c}?", "Do you remember {c}?",
    "Say again, what is {c}?", "Any idea about {c}?", "Please look up {c}.", "I need {c}.",
    "Look up {c}.", "Could you tell me {c}?", "Which value holds for {c}?", "Do we know {c}?",
    "Please state {c}.", "What does the chat say is {c}?", "Check the chat for {c}.",
]
WHEN_TEMPLATES = [  # their words (besides the event's) appear in no turn template
    "When did {s} {q}?", "When exactly did {s} {q}?", "When did {s} finally {q}?",
    "When, roughly, did {s} {q}?", "When did {s} first {q}?", "When did {s} decide to {q}?",
    "When did {s} manage to {q}?", "When was it that {s} {e}?", "When did it happen that {s} {e}?",
    "When was the date {s} {e}?", "When did {s} mention that they {e}?",
    "When did {s} {q}, if memory serves?", "When precisely did {s} {q}?",
    "When in the chat did {s} {q}?", "When on the calendar did {s} {q}?",
    "When, in hindsight, did {s} {q}?", "When was the occasion that {s} {e}?",
]
