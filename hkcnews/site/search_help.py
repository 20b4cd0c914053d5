"""The search help page, /<database>/-/search-help: the query language of
hkcnews/terms.py, one example per operator, each a link that runs it on the
articles table. Every search box of an archive links here. (Not
/-/search-help: datasette-search-all's route for /-/search takes every
path that begins so.)"""

from urllib.parse import urlencode

from datasette.utils.asgi import NotFound, Response

from hkcnews.compat import ensure_can_view_table
from hkcnews.ours import ARTICLES, built_by_us

# (syntax, 中文, English meaning, example): the operators in the order of
# docs/research.md's table, loosest last.
OPERATORS = [
    ("A B", "兩者皆有", "both: every term must occur (AND between them does the same)", "香港 台灣"),
    ("A OR B", "任何一個", "either, or both", "國安法 OR 23條"),
    ("-A", "不含", "without: the articles that do not contain A (NOT A does the same)", "香港 -台灣"),
    (
        '"A B"',
        "完整片語",
        "an exact phrase: English words in this order; for Chinese the same as unquoted",
        '"national security"',
    ),
    ("A NEAR/n B", "相近", "both, with at most n characters between them, in either order", "國安法 NEAR/5 香港"),
    ("A NEAR B", "相近（10 字內）", "NEAR alone means NEAR/10", "林鄭 NEAR 特首"),
    ("( )", "括號", "groups: OR, AND and - apply to what is inside", "(國安法 OR 23條) -台灣"),
]
RULES = [
    (
        "中文 Chinese",
        "A run of characters matches exactly where those characters stand together, in either script: 崔天凯 finds 崔天凱.",
    ),
    ("英文 English", "Words match whole and in any case: blinken finds Blinken, not Blinkens."),
    (
        "優先次序 Precedence",
        "NEAR binds tightest, then - , then AND (a space), then OR: 香港 OR 澳門 台灣 is 香港 OR (澳門 AND 台灣).",
    ),
    (
        "運算符 Operators",
        "OR, AND, NOT and NEAR are operators in capitals only; in lower case they are words. A - inside a word (COVID-19) is part of it.",
    ),
    (
        "至少一個必須出現的詞 One term must occur",
        "A search of only -terms (-台灣 alone) cannot be answered: add a term that must occur.",
    ),
]


def examples(datasette, database):
    """The operators with each example's search URL."""
    table = datasette.urls.table(database, ARTICLES)
    return [
        {"syntax": s, "chinese": c, "meaning": m, "example": e, "url": f"{table}?{urlencode({'_search': e})}"}
        for s, c, m, e in OPERATORS
    ]


async def search_help(datasette, request):
    database = request.url_vars["database"]
    if database not in datasette.databases or not await built_by_us(datasette, database):
        raise NotFound(f"Database not found: {database}")
    await ensure_can_view_table(datasette, request.actor, database, ARTICLES)
    context = {
        "database": database,
        "operators": examples(datasette, database),
        "rules": RULES,
        "table_url": datasette.urls.table(database, ARTICLES),
    }
    return Response.html(await datasette.render_template("hkc_search_help.html", context, request=request))
