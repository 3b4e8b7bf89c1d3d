"""Text preprocessing for distilling words from free-text annotations (METHODS.md §5c).

The original lower-cases, lemmatises with NLTK's WordNet lemmatiser and spell-corrects
with pyspellchecker.  Latent Studio downloads nothing, so this module does the same job
with rules: lower-case, split on anything that is not a letter, drop stop words and a
*light* rule-based lemmatiser:

* irregular forms from a small table (``men → man``, ``leaves → leaf``, ``grew → grow``);
* plural nouns (``-ies → -y``, ``-(s|x|z|ch|sh)es → -\\1``, ``-s → ∅`` except ``-ss/-us/-is``);
* ``-ing``/``-ed`` verb forms with Porter's step 1b repairs (undouble ``runn → run``,
  restore ``e`` after a short consonant-vowel-consonant stem ``smil → smile``);
* comparatives/superlatives only for a list of common visual adjectives
  (``brighter → bright``; ``water`` and ``flower`` stay as they are).

No spelling correction: misspellings simply become rare words, which the minimum word
frequency of the distillation drops.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

#: English function words and annotation filler ("the image becomes more …")
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above across after again against all almost along also although always am among an and another any
    anyone anything are around as at away back be became because become becomes been before behind being below
    between both but by can cannot could did do does doing done down during each either else even ever every
    few for from further get gets getting go goes going got had has have having he her here hers herself him
    himself his how however i if in into is it its itself just least less let like little lot lots made make
    makes many may me might more most much must my myself near neither no nor not now of off often on once one
    only onto or other others our ours ourselves out over own per perhaps quite rather really same seem seems
    several she should show shows showing shown so some somewhat something still such than that the their theirs
    them themselves then there these they thing things this those though through thus to too toward towards
    under until up upon us very via was we well were what when where whether which while who whom whose why
    will with within without would yet you your yours yourself yourselves
    image images picture pictures photo photos change changes changed changing appear appears appeared
    look looks looked looking become turn turns turned turning slightly slight bit get got
    s t d ll m re ve don doesn didn isn wasn aren weren
    """.split()
)

_IRREGULAR: dict[str, str] = {
    # nouns
    "men": "man", "women": "woman", "children": "child", "teeth": "tooth", "feet": "foot", "mice": "mouse",
    "geese": "goose", "leaves": "leaf", "knives": "knife", "wolves": "wolf", "shelves": "shelf", "lives": "life",
    "wives": "wife", "halves": "half", "calves": "calf", "loaves": "loaf", "thieves": "thief", "scarves": "scarf",
    "people": "person", "tomatoes": "tomato", "potatoes": "potato", "heroes": "hero", "echoes": "echo",
    "cacti": "cactus", "fungi": "fungus", "data": "data", "media": "media", "criteria": "criterion",
    "series": "series", "species": "species", "news": "news", "glasses": "glasses", "clothes": "clothes",
    "trousers": "trousers", "pants": "pants", "jeans": "jeans", "scissors": "scissors", "stairs": "stairs",
    # verbs
    "grew": "grow", "grown": "grow", "became": "become", "becoming": "become", "took": "take", "taken": "take",
    "went": "go", "gone": "go", "made": "make", "came": "come", "fell": "fall", "fallen": "fall", "wore": "wear",
    "worn": "wear", "shone": "shine", "hid": "hide", "hidden": "hide", "rose": "rise", "risen": "rise",
    "broke": "break", "broken": "break", "drew": "draw", "drawn": "draw", "held": "hold", "left": "left",
    "lit": "light", "shrank": "shrink", "shrunk": "shrink", "spread": "spread", "sat": "sit", "stood": "stand",
    "dried": "dry", "tied": "tie", "died": "die", "lying": "lie", "dying": "die", "tying": "tie",
    # nouns in -ing / -ed that are not verb forms here
    "ceiling": "ceiling", "building": "building", "buildings": "building", "painting": "painting",
    "paintings": "painting", "clothing": "clothing", "morning": "morning", "evening": "evening",
    "wedding": "wedding", "railing": "railing", "railings": "railing", "awning": "awning", "awnings": "awning",
    "lighting": "lighting", "ring": "ring", "string": "string", "king": "king", "wing": "wing",
    "spring": "spring", "thing": "thing", "nothing": "nothing", "sibling": "sibling", "shed": "shed",
    "bed": "bed", "red": "red", "sled": "sled", "bald": "bald", "hundred": "hundred", "sacred": "sacred",
    "naked": "naked", "wicked": "wicked", "rugged": "rugged",
}

#: adjectives whose -er / -est forms are folded (others, like "water", are left alone)
_ADJECTIVES: frozenset[str] = frozenset(
    """
    bright dark light big small large tall short wide narrow long old young thick thin high low warm cool cold hot
    soft hard clear close deep dense full pale fine simple sharp smooth rough heavy happy busy sunny cloudy
    foggy misty shiny dirty clean fat slim strong weak vivid dull flat loud quiet near far red green blue
    white black grey gray brown pink wet dry calm late early rich poor sad angry pretty ugly fancy plain
    """.split()
)

_VOWELS = set("aeiou")
_WORD = re.compile(r"[a-z]+")


def _has_vowel(s: str) -> bool:
    return any(c in _VOWELS or (c == "y" and i > 0) for i, c in enumerate(s))


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel→consonant transitions, [C](VC)^m[V]."""
    form = "".join("v" if c in _VOWELS or (c == "y" and i > 0 and stem[i - 1] not in _VOWELS) else "c"
                   for i, c in enumerate(stem))
    return len(re.findall("vc", re.sub(r"(.)\1+", r"\1", form)))


def _cvc(stem: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (``hop``, ``smil``)."""
    if len(stem) < 3:
        return False
    a, b, c = stem[-3:]
    return a not in _VOWELS and b in _VOWELS and c not in _VOWELS and c not in "wxy"


def _repair(stem: str) -> str:
    """Porter step 1b repairs after removing -ed / -ing: restore e, undouble consonants."""
    if stem.endswith(("at", "bl", "iz", "v", "uc", "rg", "dg")):
        return stem + "e"
    if len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz" and stem[-1] not in _VOWELS:
        return stem[:-1]
    if _measure(stem) == 1 and _cvc(stem):
        return stem + "e"
    return stem


def _plural(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("ss", "x", "z", "ch", "sh")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")) and len(word) > 3:
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def lemmatize(word: str) -> str:
    """The base form of one lower-case word by rules (see the module docstring)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3:
        return word
    if word.endswith("ing") and len(word) > 5 and _has_vowel(word[:-3]):
        return _repair(word[:-3])
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ed") and not word.endswith("eed") and len(word) > 4 and _has_vowel(word[:-2]):
        return _repair(word[:-2])
    for suffix in ("est", "er"):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            for cand in (stem, stem + "e", stem[:-1] if len(stem) > 1 and stem[-1] == stem[-2] else None,
                         stem[:-1] + "y" if stem.endswith("i") else None):
                if cand and cand in _ADJECTIVES:
                    return cand
    return _plural(word)


def tokenize(text: str) -> list[str]:
    """Lower-case words of ``text``: letters only (``"man's hat"`` → ``["man", "s", "hat"]``)."""
    return _WORD.findall(text.lower())


def preprocess(text: str, stop_words: bool = True, lemmatise: bool = True) -> list[str]:
    """The distinct words of one annotation, in order of appearance, after the pipeline above.

    Stop words are checked both before and after lemmatising (``"becoming"``, ``"looks"``).
    """
    out: list[str] = []
    seen: set[str] = set()
    for tok in tokenize(text):
        if stop_words and tok in STOP_WORDS:
            continue
        word = lemmatize(tok) if lemmatise else tok
        if len(word) < 2 or (stop_words and word in STOP_WORDS) or word in seen:
            continue
        seen.add(word)
        out.append(word)
    return out


def preprocess_all(texts: Iterable[str], stop_words: bool = True, lemmatise: bool = True) -> list[list[str]]:
    return [preprocess(t, stop_words, lemmatise) for t in texts]


__all__ = ["STOP_WORDS", "lemmatize", "preprocess", "preprocess_all", "tokenize"]
