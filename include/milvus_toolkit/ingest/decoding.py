"""Bytes of a legacy-encoded text file to text, or a reason why not: never possibly wrong text.

A detector (charset-normalizer) proposes readings of the bytes. Single-byte code pages decode
almost anything, so several readings usually "work", and on short or capital-heavy text the
detector's ranking is no better than a guess: a Windows-1251 text reads as MacCyrillic with its
capitals turned into other letters, Turkish as Windows-1252 (``Ýstanbul``), Hebrew as Cyrillic.
So this module decides, in order:

1. UTF-8 (with or without BOM); ISO-2022-JP, which is 7-bit and announced by escape sequences.
2. Readings that cannot be text are dropped: C1 control or unassigned characters, a symbol glued
   to a letter (``©»astný``, ``¯ó³kiewski``) or a lone accent, a capital inside a lowercase word
   (``ЧЮЕТБ`` read as ``ЧюЕтб``) or two before one, one word in two scripts (``Vиera``), a lone
   letter no language writes alone (``ŕ``), half-width katakana, a Greek final sigma inside a
   word, Latin letters no one language (or two of one code-page group, for mixed text) uses
   together, a Korean reading mostly in Hanja, a Chinese one with kana, a Chinese or Japanese one
   with spaces between most words.
3. A Latin reading whose letters fit one language beats one that needs two; when the detector
   proposes none in one language, the common single-byte code pages are tried too. Among the
   rest: the detector's best and the readings it cannot tell from it (chaos within 0.02,
   language coherence within 0.1).
4. If they all give the same text, that is the text. If they differ, the reading made by the
   usual code page of its own script wins when it is the only such reading, every other reading
   comes from a rare code page (Mac, DOS, HP) and they do not disagree on letter case (KOI8 and
   Windows-1251 swap it): Windows-1251 over MacCyrillic for Cyrillic, Windows-1252 for Western
   Latin, 1250 Central European, 1254 Turkish, 1257 Baltic, 1253 Greek, 1255 Hebrew, 1256
   Arabic, 874 Thai.
5. Otherwise the file is not decoded, and the reason names the code pages that disagree.

Proven by ``tests/unit/test_decoding_matrix.py`` (17 languages, their legacy encodings, as a
paragraph, a sentence and in capitals). Known limit (docs/object-storage.md): a few words in a
secondary code page can still read as plausible text of another script.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# Non-ASCII letters of each language written in Latin script, by the code-page group that serves it.
LATIN_LANGUAGES = {
    "western": {
        "french": "àâæçéèêëîïôœùûüÿ",
        "german": "äöüß",
        "spanish": "áéíñóúü",
        "portuguese": "áâãàçéêíóôõú",
        "italian": "àèéìíîòóùú",
        "catalan": "àçèéíïòóúü",
        "dutch": "áéíóúëïöüè",
        "danish_norwegian": "æøåéó",
        "swedish_finnish": "åäöé",
        "icelandic": "áðéíóúýþæö",
        "albanian": "çë",
    },
    "central": {
        "polish": "ąćęłńóśźż",
        "czech": "áčďéěíňóřšťúůýž",
        "slovak": "áäčďéíĺľňóôŕšťúýž",
        "hungarian": "áéíóöőúüű",
        "romanian": "ăâîșțşţ",
        "croatian_slovene": "čćđšž",
    },
    "turkish": {"turkish": "çğıöşüâîû"},
    "baltic": {"lithuanian": "ąčęėįšųūž", "latvian": "āčēģīķļņšūž", "estonian": "äõöüšž"},
}
# The usual code page of each script (Latin: of each group), preferred when readings disagree.
USUAL_CODE_PAGE = {
    "western": "cp1252",
    "central": "cp1250",
    "turkish": "cp1254",
    "baltic": "cp1257",
    "CYRILLIC": "cp1251",
    "GREEK": "cp1253",
    "HEBREW": "cp1255",
    "ARABIC": "cp1256",
    "THAI": "cp874",
}
# Code pages a national or vendor standard made common: a reading from one of them is never
# overruled by the usual code page's reading (only rare ones, such as Mac and DOS pages, are).
COMMON_CODE_PAGES = {
    *USUAL_CODE_PAGE.values(),
    *(f"iso8859_{n}" for n in range(1, 17)),
    "latin_1",
    "koi8_r",
    "koi8_u",
    "cp866",
    "tis_620",
    "cp932",
    "shift_jis",
    "euc_jp",
    "iso2022_jp",
    "gb2312",
    "gbk",
    "gb18030",
    "big5",
    "euc_kr",
    "cp949",
}
ALPHABETS = {
    (group, language): set(letters) | set(letters.upper()) | ({"İ"} if language == "turkish" else set())
    for group, languages in LATIN_LANGUAGES.items()
    for language, letters in languages.items()
}
LONE_LETTERS = set("àéèóîåöäüčšžÀÉÈÓÎÅÖÄÜ")  # non-ASCII one-letter words (French à, Czech č. ...)
INSIDE_WORDS = set("’‘ʼ·\u00ad")  # apostrophes, middle dot, soft hyphen
EAST_ASIAN = {"CJK", "HANGUL", "LATIN"}  # written without spaces between them
CHAOS_MARGIN, COHERENCE_MARGIN = 0.02, 0.1
CHECKED_CHARS = 1_000_000  # plausibility is judged on a reading's first million characters
WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\u0e31-\u0e4e])+")
ISO_2022_ESCAPE = re.compile(r"\x1b[$(][@ABDJ]")


@dataclass
class Decoded:
    text: str | None
    encoding: str = ""
    reason: str = ""  # why there is no text


def decode(data: bytes) -> Decoded:
    """``data`` as text, or no text and the reason (see the module's docstring)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _legacy(data)
    if ISO_2022_ESCAPE.search(text):
        try:
            return Decoded(data.decode("iso2022_jp_2"), "iso2022_jp")
        except UnicodeDecodeError:
            return Decoded(None, reason="ISO-2022 escape sequences, but not valid ISO-2022-JP")
    return Decoded(text, "utf-8")


def _legacy(data: bytes) -> Decoded:
    from charset_normalizer import from_bytes

    plausible = []
    for match in from_bytes(data):
        text = str(match)
        head = text[:CHECKED_CHARS]
        if (
            implausible(head) is None
            and _fits_its_code_page(head, match.could_be_from_charset)
            and (fit := written_in(head))[1]
        ):
            plausible.append((fit[0], match, text, fit[1]))
    readings: dict[str, tuple[set[str], set[str]]] = {}  # text -> (encodings, scripts or Latin groups)
    best_tier = min((tier for tier, *_ in plausible), default=9)
    if best_tier > 1:  # the detector proposed no reading in one language: try the common code pages too
        for encoding in SINGLE_BYTE_CANDIDATES:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            head = text[:CHECKED_CHARS]
            if implausible(head) is None and (fit := written_in(head))[0] == 1 and fit[1]:
                readings.setdefault(text, (set(), fit[1]))[0].add(encoding)
        if readings:
            plausible, best_tier = [], 1
    if not plausible and not readings:
        return Decoded(None, reason="not UTF-8, and no text encoding gives a plausible reading")
    reference = None
    for tier, match, text, scripts in plausible:
        if tier != best_tier:
            continue
        if reference is None:
            reference = match
        elif match.chaos > reference.chaos + CHAOS_MARGIN or match.coherence < reference.coherence - COHERENCE_MARGIN:
            continue
        readings.setdefault(text, (set(), scripts))[0].update(match.could_be_from_charset)
    usual = [
        (text, USUAL_CODE_PAGE[script])
        for text, (encodings, scripts) in readings.items()
        for script in sorted(scripts)
        if USUAL_CODE_PAGE.get(script) in encodings
    ]
    if len(readings) == 1:
        text, (encodings, _) = next(iter(readings.items()))
        return Decoded(text, usual[0][1] if usual else sorted(encodings)[0])
    winners = {text for text, _ in usual}
    if len(winners) == 1 and _only_rare_others(readings, winners) and not _case_profiles_differ(readings):
        return Decoded(*usual[0])
    names = sorted({_name(encodings) for encodings, _ in readings.values()})
    return Decoded(
        None,
        reason=f"ambiguous legacy encoding: {', '.join(names[:6])} read it as different texts "
        "and nothing tells which is right (save it as UTF-8)",
    )


# Tried when the detector proposes no reading in one language (it proposes few on short text).
SINGLE_BYTE_CANDIDATES = (
    *USUAL_CODE_PAGE.values(),
    *(f"iso8859_{n}" for n in (1, 2, 4, 5, 7, 9, 13, 15)),
    "koi8_r",
    "koi8_u",
    "cp866",
)
KOREAN_CODE_PAGES = {"cp949", "euc_kr", "johab", "iso2022_kr"}
CHINESE_CODE_PAGES = {"gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp950"}
JAPANESE_CODE_PAGES = {
    "shift_jis",
    "cp932",
    "shift_jis_2004",
    "shift_jisx0213",
    "euc_jp",
    "euc_jis_2004",
    "euc_jisx0213",
}


def _fits_its_code_page(text: str, encodings: list[str]) -> bool:
    """Korean is written in Hangul (a reading of mostly Hanja is another text's bytes); Chinese
    has no kana; Chinese and Japanese put no space between most words."""
    letters = Counter(script_of(c) for c in text if c.isalpha() and ord(c) >= 0x80)
    east_asian = letters["CJK"] + letters["HANGUL"]
    if set(encodings) <= KOREAN_CODE_PAGES and east_asian:
        return letters["HANGUL"] >= 0.8 * east_asian
    if set(encodings) <= CHINESE_CODE_PAGES | JAPANESE_CODE_PAGES and letters["CJK"]:
        kana = sum(1 for c in text if "\u3040" <= c <= "\u30ff")
        chinese = set(encodings) <= CHINESE_CODE_PAGES
        return not (chinese and kana) and text.count(" ") < max(3, letters["CJK"] / 5)
    return True


def _only_rare_others(readings: dict[str, tuple[set[str], set[str]]], winners: set[str]) -> bool:
    """The usual code page wins only over readings that no national standard makes (MacCyrillic,
    DOS Latin, HP Roman-8...): ISO-8859-2 against Windows-1250, for one, stays ambiguous."""
    return all(not encodings & COMMON_CODE_PAGES for text, (encodings, _) in readings.items() if text not in winners)


def _case_profiles_differ(readings: dict[str, tuple[set[str], set[str]]]) -> bool:
    """KOI8 and Windows-1251 swap the cases of Cyrillic: one reading mostly capitals and another
    mostly lowercase means the case is what they disagree on, and nothing tells which is right."""
    shares = []
    for text in readings:
        cased = [c for c in text[:CHECKED_CHARS] if c.isalpha() and ord(c) >= 0x80 and c.lower() != c.upper()]
        if cased:
            shares.append(sum(c.isupper() for c in cased) / len(cased))
    return bool(shares) and min(shares) < 0.5 < max(shares)


def _name(encodings: set[str]) -> str:
    """The best-known name among code pages that give the same text."""
    known = [e for e in USUAL_CODE_PAGE.values() if e in encodings]
    return known[0] if known else sorted(encodings)[0]


def script_of(ch: str) -> str:
    code = ord(ch)
    if 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF:
        return "CJK"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
        return "HANGUL"
    return unicodedata.name(ch, "?").split(" ")[0]


def implausible(text: str) -> str | None:
    """Why ``text`` cannot be a real text (see the module's docstring), or None."""
    if re.search(r"[\x80-\x9f]", text):
        return "C1 control characters"
    before = " "
    for i, ch in enumerate(text):
        if ord(ch) < 0x80:
            before = ch
            continue
        after = text[i + 1] if i + 1 < len(text) else " "
        category = unicodedata.category(ch)
        if category in ("Co", "Cn") or 0xFF61 <= ord(ch) <= 0xFF9F:
            return f"unassigned, private or half-width character {ch!r}"
        if category == "Sk":
            return f"lone accent {ch!r}"
        if category in ("So", "Sm", "Sc") and ch != "°" and (_glued(before) or _glued(after)):
            return f"symbol {ch!r} glued to a letter"
        if ch.isalpha() and script_of(ch) in ("CJK", "HANGUL") and "a" <= after <= "z":
            return f"{ch!r} glued to a lowercase Latin word"
        if ch == "ς" and after.isalpha():
            return "Greek final sigma inside a word"
        if ch.islower() and before.isupper() and ord(before) >= 0x80 and i >= 2 and text[i - 2].isupper():
            return f"two capitals before {ch!r} in a word"
        if (
            not category.startswith(("L", "M", "N", "Z"))
            and ch not in INSIDE_WORDS
            and script_of(ch) != "CJK"
            and before.isalpha()
            and after.isalpha()
        ):
            return f"{ch!r} inside a word"
        if ch.isupper() and before.islower():
            return f"capital {ch!r} inside a word"
        before = ch
    for word in WORD.findall(text):
        scripts = {script_of(c) for c in word}
        if len(scripts) > 1 and not scripts <= EAST_ASIAN:
            return f"one word in several scripts ({word[:12]!r})"
        if len(word) == 1 and ord(word) >= 0x80 and scripts == {"LATIN"} and word not in LONE_LETTERS:
            return f"one-letter word {word!r}"
    return None


def _glued(ch: str) -> bool:
    return ch.isalpha() or (ord(ch) >= 0x80 and not ch.isspace())


def written_in(text: str) -> tuple[int, set[str]]:
    """(1, scripts) for a non-Latin text or Latin letters one language uses; (2, groups) for Latin
    letters two languages of one group use; (3, empty) when no language fits."""
    letters = Counter(script_of(c) for c in text if c.isalpha() and ord(c) >= 0x80)
    if not letters:
        return 1, {"ascii"}
    main = letters.most_common(1)[0][0]
    if main != "LATIN":
        return 1, {main}
    used = {c for c in text if c.isalpha() and ord(c) >= 0x80}
    groups = {group for (group, _), alphabet in ALPHABETS.items() if used <= alphabet}
    if groups:
        return 1, groups
    for group in LATIN_LANGUAGES:
        alphabets = [alphabet for (g, _), alphabet in ALPHABETS.items() if g == group]
        if any(used <= a | b for a in alphabets for b in alphabets):
            groups.add(group)
    return (2, groups) if groups else (3, set())
