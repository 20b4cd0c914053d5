"""What the concordance, collocates and keywords pages read that a page
could not compute in time: each article's text folded to one script
(article_texts), and the archive's character n-grams with the number of
articles each occurs in (ngrams) and its English words (words)."""

from collections import Counter

from hkcnews.ngrams import (
    CHARACTERS_KEY,
    CHARS_KEY,
    MIN_DOCUMENTS,
    CharIds,
    NgramArrays,
    array_rows,
    count,
    english_words,
)
from hkcnews.terms import article_text, fold

# OpenCC folding runs at about five million characters a second: folding
# every matching article on each request would take seconds, so the build
# stores the folded text once. The original characters are recomputed from
# the article's row for the few lines a page shows (terms.article_text).
TEXT_TABLE = "article_texts"
NGRAM_TABLE = "ngrams"
WORD_TABLE = "words"
# The same counts as arrays, which a page loads in milliseconds (1.8 million
# rows of ngrams take seconds to read): name -> the array's bytes.
ARRAY_TABLE = "ngram_arrays"


def create_language_tables(db):
    db.execute(
        f"create table if not exists [{TEXT_TABLE}] (article_id integer primary key references articles(id), "
        "folded text not null)"
    )
    db.execute(
        f"create table if not exists [{NGRAM_TABLE}] (ngram text primary key, documents integer not null, "
        "occurrences integer not null) without rowid"
    )
    db.execute(
        f"create table if not exists [{ARRAY_TABLE}] (name text, piece integer, data blob not null, "
        "primary key (name, piece)) without rowid"
    )
    db.execute(
        f"create table if not exists [{WORD_TABLE}] (word text primary key, documents integer not null, "
        "occurrences integer not null) without rowid"
    )


def folded_text(title, body, figures):
    """The row of article_texts for an article: its article_text, folded."""
    return fold(article_text(title, body, [(f["caption"], f["credit"], f["alt"]) for f in figures]))


def write_ngram_tables(db):
    """Count the archive's n-grams and English words afresh from
    article_texts; returns the build_info entry of the characters used."""
    texts = [row[0] for row in db.execute(f"select folded from [{TEXT_TABLE}] order by article_id")]
    char_ids = CharIds.of_texts(texts)
    codes, documents, occurrences = count(char_ids, texts)
    kept = documents >= MIN_DOCUMENTS
    codes, documents, occurrences = codes[kept], documents[kept], occurrences[kept]
    db.execute(f"delete from [{NGRAM_TABLE}]")
    db.conn.executemany(
        f"insert into [{NGRAM_TABLE}] (ngram, documents, occurrences) values (?, ?, ?)",
        ((char_ids.text_of(c), int(d), int(o)) for c, d, o in zip(codes, documents, occurrences, strict=True)),
    )
    db.execute(f"delete from [{ARRAY_TABLE}]")
    db.conn.executemany(
        f"insert into [{ARRAY_TABLE}] (name, piece, data) values (?, ?, ?)",
        array_rows(NgramArrays(codes, documents, occurrences)),
    )
    word_documents, word_occurrences = Counter(), Counter()
    for text in texts:
        words = english_words(text)
        word_occurrences.update(words)
        word_documents.update(set(words))
    db.execute(f"delete from [{WORD_TABLE}]")
    db.conn.executemany(
        f"insert into [{WORD_TABLE}] (word, documents, occurrences) values (?, ?, ?)",
        ((w, n, word_occurrences[w]) for w, n in word_documents.items() if n >= MIN_DOCUMENTS),
    )
    return {CHARS_KEY: char_ids.chars, CHARACTERS_KEY: str(sum(map(len, texts)))}
