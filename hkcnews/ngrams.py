"""Character n-grams of 2 to 4 characters and the documents they occur in,
counted the same way for the whole archive (by the build, into the ngrams
table) and for a set of articles (by the keywords and collocates pages).

Chinese has no spaces, so the archive's "words" are runs of characters; a
segmenter would need a model, and n-grams need none. An n-gram never
crosses anything that is not a CJK letter (punctuation, spaces, Latin
text), as the full-text index's phrases never do.

No library counts the distinct n-grams of each of thousands of documents
fast enough for a page (pure Python takes about a second per thousand
articles), so this packs each n-gram into one integer and lets numpy sort
them: a character is a small id (``CharIds``), an n-gram its ids side by
side, and the document's number fills the low bits of a sort key, so that
one sort gives both how often and in how many documents each n-gram occurs.
"""

import re

import numpy as np

__all__ = [
    "SIZES",
    "CHARS_KEY",
    "CHARACTERS_KEY",
    "MIN_DOCUMENTS",
    "CharIds",
    "NgramArrays",
    "array_rows",
    "count",
    "english_words",
    "ngrams_of",
    "CJK_RUN",
]

SIZES = (2, 3, 4)
# What the build writes in build_info for the pages: the characters codes
# are made of (CharIds), and the characters of every text (for log-likelihood).
CHARS_KEY = "ngram_chars"
CHARACTERS_KEY = "text_characters"
# An n-gram in fewer articles of the archive is not kept: too rare to be a
# keyword or a collocate worth a line, and most of the archive's n-grams.
MIN_DOCUMENTS = 5
_KEY_BITS = 64

_ENGLISH_WORD = re.compile(r"[a-z][a-z0-9]+")


def english_words(folded_text):
    """Each case-folded English word (two letters or more) of a text, as often as it occurs."""
    return _ENGLISH_WORD.findall(folded_text.lower())


_BMP_LETTERS = (
    (0x3041, 0x3096),
    (0x309D, 0x309F),
    (0x30A1, 0x30FA),
    (0x30FC, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
)
_LETTERS = "[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _BMP_LETTERS) + "]"
_RUN = re.compile(_LETTERS + "{2,}")
# A run of letters of any length: a search term that is one.
CJK_RUN = re.compile(_LETTERS + "+")


def ngrams_of(text):
    """The distinct n-grams of 2 to 4 characters of a (folded) text, within runs of letters."""
    found = set()
    for run in _RUN.findall(text):
        for size in SIZES:
            found.update(run[i : i + size] for i in range(len(run) - size + 1))
    return found


def _is_cjk_bmp(code):
    # The same letters as terms.py's CJK runs, in the Basic Multilingual
    # Plane: ids fit 16-bit code points; the rare characters of the
    # supplementary planes end an n-gram like punctuation.
    return any(lo <= code <= hi for lo, hi in _BMP_LETTERS)


class CharIds:
    """The characters n-grams are made of, each with a small id (1, 2, …; 0
    is a break). ``chars`` is the string of them in id order, as the build
    stores it in build_info."""

    def __init__(self, chars):
        self.chars = chars
        self.bits = max(1, len(chars)).bit_length()
        if SIZES[-1] * self.bits > _KEY_BITS - 6:
            raise ValueError(f"{len(chars)} distinct characters: too many for 64-bit n-gram keys")
        table = np.zeros(0x10000, dtype=np.uint64)
        for i, char in enumerate(chars, 1):
            table[ord(char)] = i
        self._table = table

    @classmethod
    def of_texts(cls, texts):
        """The CJK characters found in at least MIN_DOCUMENTS of ``texts``
        (an n-gram with any other character is in fewer), most frequent first."""
        documents = {}
        for text in texts:
            for char in set(text):
                documents[char] = documents.get(char, 0) + 1
        kept = [c for c, n in documents.items() if n >= MIN_DOCUMENTS and _is_cjk_bmp(ord(c))]
        kept.sort(key=lambda c: (-documents[c], c))
        return cls("".join(kept))

    def ids(self, text):
        """The id of each character of ``text`` (0 for a break)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return self._table[np.minimum(codes, 0xFFFF)] * (codes <= 0xFFFF)

    def code_of(self, ngram):
        """The code of one n-gram, or None when one of its characters has no id."""
        code = 0
        for char in ngram:
            i = int(self._table[ord(char)]) if ord(char) <= 0xFFFF else 0
            if not i:
                return None
            code = (code << self.bits) | i
        return code

    def text_of(self, code):
        """The n-gram a code stands for."""
        code, mask, chars = int(code), (1 << self.bits) - 1, []
        while code:
            chars.append(self.chars[(code & mask) - 1])
            code >>= self.bits
        return "".join(reversed(chars))


def count(char_ids, texts):
    """``(codes, documents, occurrences)``: every n-gram of 2 to 4
    characters of ``texts`` (folded texts), sorted by code, with the number
    of texts it occurs in and the times it occurs in all."""
    texts = list(texts)
    parts = []
    # A code of size n is below 2 ** (n * bits) and, its first id being at
    # least 1, not below 2 ** ((n - 1) * bits): the sizes in turn are in order.
    for size in SIZES:
        doc_bits = _KEY_BITS - size * char_ids.bits
        chunk = 1 << doc_bits
        pieces = [_count_chunk(char_ids, texts[i : i + chunk], size, doc_bits) for i in range(0, len(texts), chunk)]
        parts.append(_merged(pieces))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def _empty():
    return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _merged(pieces):
    """One (codes, documents, occurrences) of several, counts of a code added."""
    if not pieces:
        return _empty()
    if len(pieces) == 1:
        return pieces[0]
    codes = np.concatenate([p[0] for p in pieces])
    # The pieces are each sorted: a stable sort merges their runs in linear time.
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    starts = _run_starts(codes)
    return (
        codes[starts],
        np.add.reduceat(np.concatenate([p[1] for p in pieces])[order], starts),
        np.add.reduceat(np.concatenate([p[2] for p in pieces])[order], starts),
    )


def _run_starts(sorted_values):
    new = np.ones(len(sorted_values), dtype=bool)
    new[1:] = sorted_values[1:] != sorted_values[:-1]
    return np.flatnonzero(new)


def _count_chunk(char_ids, texts, size, doc_bits):
    # One id array for the chunk, a break between texts, so that no n-gram
    # joins two of them; each position knows its text's number, which fills
    # the low bits of its n-gram's sort key.
    ids = char_ids.ids("\0".join(texts))
    length = len(ids) - size + 1
    if length <= 0:
        return _empty()
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    document = np.repeat(np.arange(len(texts), dtype=np.uint64), lengths)[:length]
    bits = np.uint64(char_ids.bits)
    codes, whole = ids[:length].copy(), ids[:length] > 0
    for k in range(1, size):
        part = ids[k : k + length]
        codes <<= bits
        codes |= part
        whole &= part > 0
    codes <<= np.uint64(doc_bits)
    codes |= document
    keys = np.sort(codes[whole])
    if not len(keys):
        return _empty()
    codes = keys >> np.uint64(doc_bits)
    starts = _run_starts(codes)
    new_key = np.ones(len(keys), dtype=np.int64)
    new_key[1:] = keys[1:] != keys[:-1]
    occurrences = np.diff(np.append(starts, len(keys)))
    return codes[starts], np.add.reduceat(new_key, starts), occurrences


class NgramArrays(dict):
    """The archive's counts as the build stores them in ngram_arrays (codes
    sorted, documents, occurrences), and the lookup of a set's codes."""

    DTYPES = {"codes": "<u8", "documents": "<i8", "occurrences": "<i8"}

    def __init__(self, codes, documents, occurrences):
        super().__init__(codes=codes, documents=documents, occurrences=occurrences)

    @classmethod
    def from_rows(cls, rows):
        """From (name, piece, bytes) rows of ngram_arrays, in piece order."""
        data = {}
        for name, _, piece in rows:
            data.setdefault(name, []).append(piece)
        return cls(*(np.frombuffer(b"".join(data.get(name, [])), dtype=dtype) for name, dtype in cls.DTYPES.items()))

    def lookup(self, codes, name="documents"):
        """The count ``name`` of each of ``codes`` (0 where the archive keeps none)."""
        known = self["codes"]
        if not len(known):
            return np.zeros(len(codes), dtype=np.int64)
        where = np.minimum(np.searchsorted(known, codes), len(known) - 1)
        return np.where(known[where] == codes, self[name][where], 0)


# The site's connections refuse values over 1 MB (hkcnews/site/limits.py).
PIECE_BYTES = 512 * 1024


def array_rows(arrays):
    """(name, piece, bytes) rows of ngram_arrays for an NgramArrays."""
    for name, dtype in NgramArrays.DTYPES.items():
        data = np.asarray(arrays[name], dtype=dtype).tobytes()
        for piece, start in enumerate(range(0, len(data), PIECE_BYTES)):
            yield name, piece, data[start : start + PIECE_BYTES]
