"""Word pools and helpers of the fact-stream tasks (KVUpdates, Needle, Poisoning, the recipes).

People, attributes and their values, and the sentence templates that state, update, confirm,
rumour, ask and fill; shared so every fact-stream task draws the same kinds of surface forms
(each split its own disjoint share: :func:`memgym.tasks.base.split_pool`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.tasks.base import rate_count, split_pool

# -- schema (shared by all splits) ---------------------------------------------------------
#: Marker phrases of hedged rumours. Shared by every split and by the needle task: they are the
#: reliability signal a policy must learn, not surface to memorise.
HEDGE_MARKERS: tuple[str, ...] = (
    "Rumour has it", "Someone guessed", "Unconfirmed:", "I might be wrong, but", "Allegedly,",
    "Word around town is that", "Not sure about this, but", "Hearsay:", "Supposedly,",
    "A neighbour claimed", "Gossip:",
)
#: Attribute names are the schema; their values are split-disjoint.
VALUES: dict[str, list[str]] = {
    "city": "Oslo Lisbon Nairobi Lima Osaka Toronto Dublin Krakow Porto Seville Bergen Tampere "
    "Leeds Glasgow Cardiff Hobart Perth Auckland Wellington Quito Bogota Santiago Montevideo "
    "Accra Dakar Tunis Izmir Tbilisi Yerevan Almaty Hanoi Manila Busan Sapporo Kyoto Zagreb "
    "Ljubljana Bratislava Tallinn Riga Vilnius Geneva Lyon Bordeaux Marseille Turin".split(),
    "job": ("nurse,baker,architect,pilot,plumber,chemist,librarian,dentist,carpenter,surveyor,"
            "translator,journalist,electrician,pharmacist,florist,geologist,veterinarian,"
            "accountant,firefighter,teacher,tailor,welder,lawyer,paramedic,barista,cartographer,"
            "data analyst,sound engineer,park ranger,lighthouse keeper,beekeeper,locksmith,"
            "optician,stonemason,economist,zookeeper,glassblower,botanist,potter").split(","),
    "pet": ("cat,dog,parrot,hamster,rabbit,tortoise,goldfish,ferret,iguana,gecko,canary,"
            "guinea pig,chinchilla,hedgehog,axolotl,cockatiel,corn snake,tarantula,budgie,pony,"
            "goat,alpaca,duck,hermit crab,bearded dragon,chameleon,rat,gerbil,koi,lovebird,"
            "pigeon,tree frog,salamander,donkey,lamb,newt").split(","),
    "favourite colour": ("teal,crimson,amber,violet,indigo,ochre,magenta,turquoise,scarlet,"
                         "lavender,maroon,olive,coral,cyan,beige,charcoal,mint green,navy blue,"
                         "burgundy,saffron,mustard,peach,lilac,emerald,cobalt,ivory,plum,rust,"
                         "slate grey,sky blue,ruby,sepia,taupe,vermilion,aquamarine,"
                         "periwinkle").split(","),
    "hobby": ("chess,pottery,archery,birdwatching,knitting,fencing,rowing,juggling,origami,"
              "calligraphy,sailing,rock climbing,gardening,fishing,surfing,kayaking,painting,"
              "photography,woodworking,stargazing,geocaching,quilting,skateboarding,yoga,"
              "karaoke,cycling,hiking,pilates,sudoku,bowling,diving,tango,embroidery,sketching,"
              "tai chi,fly fishing").split(","),
    "instrument": ("violin,cello,piano,flute,oboe,trumpet,harp,banjo,ukulele,clarinet,"
                   "saxophone,drums,accordion,bassoon,mandolin,sitar,tuba,trombone,harmonica,"
                   "bagpipes,viola,double bass,xylophone,marimba,bongos,lute,zither,recorder,"
                   "French horn,piccolo,harpsichord,theremin,steel drum,tabla,didgeridoo,"
                   "kazoo,glockenspiel,cornet,dulcimer,ocarina").split(","),
}
ATTRIBUTES: tuple[str, ...] = tuple(VALUES)

# -- surface pools (split-disjoint) ---------------------------------------------------------
FIRST_NAMES: list[str] = (
    "Ann Bruno Carla Dmitri Elena Farid Greta Hugo Ines Jonas Kira Luca Maya Nikolai Olga Pablo "
    "Quinn Rosa Samir Tara Umar Vera Wes Xenia Yusuf Zoe Aditi Bjorn Chloe Diego Emeka Freya "
    "Goran Hana Ivan Keiko Lars Mei Nadia Omar Priya Rafael Sven Talia Viktor Wanda Yara Zain "
    "Amara Cyrus Dalia Elio Fatima Gideon Leila Mateo Noor Oskar Petra Ravi Sofia Tomas Uma "
    "Valentin Wiremu Yasmin Zora Anika Benedikt Cosima Dario Esme Filip Giulia Hamid Ingrid"
).split()
LAST_NAMES: list[str] = (
    "Lee Novak Okafor Silva Tanaka Berg Costa Dubois Eriksen Fischer Garcia Haddad Ivanova "
    "Jensen Kowalski Larsen Moreau Nakamura Olsen Petrov Quint Rossi Schmidt Torres Ueda Varga "
    "Weber Xu Yilmaz Zhang Abebe Brennan Castillo Dimitrov Eze Ferreira Gallo Horvat Ito "
    "Jovanovic Kaur Lindqvist Mendes Nilsson Ortiz Park Reyes Sato Tran Vogel"
).split()
#: Reliable first statements; ``{s}`` subject, ``{a}`` attribute, ``{v}`` value.
STATE_TEMPLATES: list[str] = [
    "{s}'s {a} is {v}.", "Records show the {a} of {s} is {v}.", "For the record, {s}'s {a} is {v}.",
    "{s}: My {a} is {v}.", "According to the registry, the {a} of {s} is {v}.",
    "Profile note: {s}'s {a} is {v}.", "Fact: the {a} of {s} is {v}.",
    "Noted today: {s}'s {a} is {v}.", "From the official file: {s}'s {a} is {v}.",
    "Confirmed: the {a} of {s} is {v}.", "Intake form: the {a} of {s} is {v}.",
    "Verified entry: {s}'s {a} is {v}.", "Directory entry: {s}'s {a} is {v}.",
    "Per the database, the {a} of {s} is {v}.", "Known fact: {s}'s {a} is {v}.",
    "Checked and true: the {a} of {s} is {v}.", "Onboarding sheet: {s}'s {a} is {v}.",
    "Welcome pack: the {a} of {s} is {v}.", "Census data: {s}'s {a} is {v}.",
    "Straight from the source, the {a} of {s} is {v}.", "Good to know: {s}'s {a} is {v}.",
    "Signed statement: the {a} of {s} is {v}.", "Team wiki: {s}'s {a} is {v}.",
    "Official record: the {a} of {s} is {v}.", "Registration card: {s}'s {a} is {v}.",
]
#: Reliable statements that change a key's value.
UPDATE_TEMPLATES: list[str] = [
    "Update: {s}'s {a} is now {v}.", "{s}'s {a} has changed to {v}.",
    "Heads up, the {a} of {s} has been updated to {v}.", "{s}: My {a} is now {v}.",
    "Correction: {s}'s {a} is now {v}.", "New info: the {a} of {s} is now {v}.",
    "As of this week, {s}'s {a} has become {v}.", "Change logged: {s}'s {a} was updated to {v}.",
    "Latest: the {a} of {s} changed to {v}.", "{s}: My {a} has changed to {v}.",
    "Moving on from the old one, {s}'s {a} is now {v}.",
    "Records updated: the {a} of {s} has been updated to {v}.", "News: {s}'s {a} became {v}.",
    "Since last month, the {a} of {s} is now {v}.", "Amended entry: {s}'s {a} now is {v}.",
    "Fresh change: the {a} of {s} has become {v}.",
    "Just in: {s}'s {a} has been updated to {v}.", "Revised: the {a} of {s} is now {v}.",
]
#: Reliable restatements of a key's current value.
CONFIRM_TEMPLATES: list[str] = [
    "{s}'s {a} is still {v}.", "No change: the {a} of {s} is still {v}.",
    "Checked again: {s}'s {a} is still {v}.", "{s}: My {a} is still {v}.",
    "Same as before, the {a} of {s} is still {v}.", "Reconfirmed: {s}'s {a} is still {v}.",
    "Nothing new: {s}'s {a} is still {v}.", "Verified again: the {a} of {s} is still {v}.",
    "As before, {s}'s {a} is still {v}.", "Audit passed: the {a} of {s} is still {v}.",
    "Still true: {s}'s {a} is still {v}.", "Unchanged: the {a} of {s} is still {v}.",
    "Double-checked: {s}'s {a} is still {v}.", "Status quo: the {a} of {s} is still {v}.",
    "Follow-up: {s}'s {a} is still {v}.", "Rechecked today: the {a} of {s} is still {v}.",
    "Holding steady, {s}'s {a} is still {v}.", "As of today, the {a} of {s} is still {v}.",
]
#: Rumour bodies, written after a hedge marker (they parse as facts, with wrong values).
RUMOUR_TEMPLATES: list[str] = [
    "{s}'s {a} is {v}.", "{s}'s {a} is now {v}.", "the {a} of {s} is {v}.", "{s}'s {a} was {v}.",
    "{s}'s {a} has changed to {v}.", "the {a} of {s} has become {v}.", "{s}'s {a} became {v}.",
    "the {a} of {s} is now {v}.", "{s}'s {a} has been updated to {v}.", "the {a} of {s} was {v}.",
    "{s}'s {a} is still {v}.", "the {a} of {s} changed to {v}.", "{s}'s {a} has become {v}.",
    "the {a} of {s} is still {v}.", "{s}'s {a} now is {v}.", "{s}'s {a} is {v}, apparently.",
    "the {a} of {s} is {v}, or so they say.", "{s}'s {a} was updated to {v}.",
    "the {a} of {s} has been updated to {v}.", "{s}'s {a} changed to {v}.",
    "the {a} of {s} became {v}.", "{s}'s {a} is now {v}, I think.",
    "the {a} of {s} is {v}, last I heard.", "the {a} of {s} now is {v}.",
    "{s}'s {a} is {v}; do not quote me.", "the {a} of {s} was updated to {v}.",
]
QUESTION_TEMPLATES: list[str] = [
    "What is {s}'s {a}?", "Tell me {s}'s {a}.", "Do you know {s}'s {a}?",
    "What is the {a} of {s}?", "Remind me of {s}'s {a}.", "Could you tell me the {a} of {s}?",
    "Which one is {s}'s {a}?", "Any idea about {s}'s {a}?", "Please recall {s}'s {a}.",
    "I need {s}'s {a}.", "Quick check: what is {s}'s {a}?", "Do you remember the {a} of {s}?",
    "What do we have for {s}'s {a}?", "Question: what is {s}'s {a}?", "Can you recall {s}'s {a}?",
    "Say again, what is the {a} of {s}?", "Look up {s}'s {a}.", "Give me {s}'s {a}.",
    "What was recorded as the {a} of {s}?", "From memory, what is {s}'s {a}?",
]
#: Chatter stating no fact; ``{s}`` (optional) is one of the episode's people.
FILLER_TEMPLATES: list[str] = [
    "Lunch today was a quiet affair.", "{s} waved from across the street.",
    "The coffee machine broke again this morning.", "{s} mentioned the weather looked grim.",
    "Traffic on the ring road was terrible.", "We talked about football for a while.",
    "{s} laughed at a joke nobody else got.", "The meeting ran long and nobody minded.",
    "It rained all afternoon.", "{s} and I argued about films for an hour.",
    "Someone left an umbrella by the door.", "The printer jammed twice before noon.",
    "{s} brought cake to the office.", "Nothing much happened over the weekend.",
    "The train was delayed by ten minutes.", "{s} asked whether anyone had seen the keys.",
    "We watched the sunset from the roof.", "The new neighbour seems friendly enough.",
    "{s} sent a postcard with a funny stamp.", "There was a long queue at the bakery.",
    "{s} could not stop yawning during the talk.", "The heating made a strange noise overnight.",
    "A bird kept tapping on the window.", "{s} recommended a podcast about old maps.",
    "The lift was out of order again.", "We planned a picnic but it got cancelled.",
    "{s} forgot to bring a pen to the exam.", "The library closed early for repairs.",
    "Somebody hummed the same tune all day.", "{s} said hello and hurried off.",
    "The garden looks greener after the storm.", "Our team lost the quiz by one point.",
    "{s} hummed along to the radio.", "The bus was packed this morning.",
    "{s} spilled tea on the sofa.", "We ordered too much pizza again.",
]


# -- helpers of the fact-stream tasks ----------------------------------------------------
def check_key_stream(p: Any, noise_rate: str) -> None:
    """Checks shared by key-value streams (this task and the poisoning task): entities and
    keys fit the attribute schema, and ``length`` leaves a reliable chunk per key after the
    ``noise_rate`` share (distractors / planted content) and filler."""
    if p.n_keys < 1 or p.n_entities < 1:
        raise ValueError("n_keys and n_entities must be >= 1")
    if -(-p.n_keys // p.n_entities) > len(ATTRIBUTES):
        raise ValueError(f"n_keys={p.n_keys} needs more than {len(ATTRIBUTES)} attributes "
                         f"per entity; raise n_entities")
    reliable = p.length - rate_count(getattr(p, noise_rate), p.length) \
        - rate_count(p.filler_rate, p.length)
    if reliable < p.n_keys:
        raise ValueError(f"length={p.length} leaves {reliable} reliable chunks for "
                         f"n_keys={p.n_keys}; raise length or lower the rates")
    if not 0 <= p.abstain_questions <= len(ATTRIBUTES):
        raise ValueError(f"abstain_questions must be in [0, {len(ATTRIBUTES)}]")
    if not 0 <= p.mid_stream_questions <= p.n_keys:
        raise ValueError("mid_stream_questions must be in [0, n_keys]")


def draw_people(rng: np.random.Generator, pools: dict[str, Any], n_entities: int,
                split: str) -> tuple[list[str], str]:
    """``n_entities`` people plus a spare one (never stated reliably): distinct first names,
    last names may repeat (name overlap is realistic)."""
    if n_entities + 1 > len(pools["first"]):
        raise ValueError(f"n_entities={n_entities} exceeds the {split} name pool")
    firsts = rng.choice(len(pools["first"]), n_entities + 1, replace=False)
    lasts = rng.integers(len(pools["last"]), size=n_entities + 1)
    people = [f"{pools['first'][f]} {pools['last'][g]}" for f, g in zip(firsts, lasts)]
    return people[:-1], people[-1]


def fact_pools(split: str, *, first_min: int, **templates: list[str]) -> dict[str, Any]:
    """The split's first names (at least ``first_min``), last names and attribute values, then
    each named template list (at least 3 each): what the fact-stream tasks built on these
    pools draw from. Callers cache it per split (split_pool hashes every item)."""
    pools: dict[str, Any] = {
        "first": split_pool(FIRST_NAMES, split, min_size=first_min),
        "last": split_pool(LAST_NAMES, split, min_size=4),
        "values": {a: split_pool(v, split, min_size=4) for a, v in VALUES.items()},
    }
    pools.update({name: split_pool(pool, split, min_size=3) for name, pool in templates.items()})
    return pools
