"""Articles for the concordance, collocates and keywords pages, each there
for one behaviour, and a Datasette over their build with the sample sizes
lowered as a test asks."""

from datasette.app import Datasette

from hkcnews import config

from .helpers import article_md, figure_html

# 國安法 four times in one article (title included); the offsets in its text
# "國安法一周年 市民談國安法。有人支持國安法，有人反對國安法。" are 0, 10, 18, 26.
REPEATED = 60001
# Beside Markdown's bold marks, in a link's text and in a figure caption.
MARKUP = 60002
# Written in simplified characters.
SIMPLIFIED = 60003
# 測試詞 120 times: two pages of lines.
LONG = 60031
# Five articles tagged 選舉 about polling stations; 違反國安法 in each.
ELECTION = list(range(60011, 60016))

# 投票站, 候選人 and 違反 in each, beside different words: no longer n-gram
# holds them in most of the five.
ELECTION_BODIES = [
    "市民到投票站投票，候選人拉票。警方指有人違反國安法。",
    "選民前往投票站，各候選人落區。法官裁定被告違反國安法。",
    "在投票站外，候選人辯論。警方指有人違反國安法。",
    "投票站人龍，兩名候選人握手。法官裁定被告違反國安法。",
    "投票站開放，候選人名單公布。警方指有人違反國安法。",
]

WEATHER = "天文台預測週末有雨。市面冷清。"
WEATHER_ARTICLE, WEATHER_REPEAT = 60041, 60042

FILES = {
    "lang/60001.md": article_md(
        REPEATED,
        "國安法一周年",
        "市民談國安法。有人支持國安法，有人反對國安法。",
        tags=["周年"],
        date="2021-06-30",
    ),
    "lang/60002.md": article_md(
        MARKUP,
        "遊行現場",
        "**國安法**下首次遊行。\n\n"
        + figure_html("p1", caption="示威者手持標語反對國安法")
        + "\n[國安法](https://example.com/law)全文。",
        tags=["遊行"],
        date="2021-07-01",
    ),
    "lang/60003.md": article_md(SIMPLIFIED, "简体文章", "简体国安法文章。", tags=["简体"], date="2021-07-02"),
    **{
        f"lang/{n}.md": article_md(n, f"選舉新聞{i}", body, tags=["選舉"], date=f"2021-09-{10 + i:02d}")
        for i, (n, body) in enumerate(zip(ELECTION, ELECTION_BODIES, strict=True), 1)
    },
    "lang/60031.md": article_md(LONG, "長文", "測試詞。" * 120, tags=["長文"], date="2021-08-01"),
    # A weather report captured twice, under two numbers (one article), and
    # four more with 天文台預測; one also shares its second tag, 寒流.
    **{
        f"lang/{n}.md": article_md(n, "天文台預測週末有雨", WEATHER, tags=["天氣", "寒流"], date="2021-11-01")
        for n in (WEATHER_ARTICLE, WEATHER_REPEAT)
    },
    "lang/60043.md": article_md(60043, "寒流襲港", "天文台預測寒流南下。", tags=["天氣", "寒流"], date="2021-11-20"),
    **{
        f"lang/{n}.md": article_md(n, f"秋高氣爽{n}", "天文台預測本周天晴。", tags=["天氣"], date="2021-10-20")
        for n in (60044, 60045, 60046)
    },
    # 投票 in more of the archive than 投票站, so that it is used less by the 選舉 set.
    **{
        f"lang/{n}.md": article_md(n, f"其他{n}", "他們投票了。天氣很好。", tags=["其他"], date="2021-10-01")
        for n in range(60021, 60024)
    },
}


def language_datasette(db, **settings):
    """The archive over ``db``, with the plugin settings given (the sample sizes)."""
    metadata = {**config.load(), "plugins": {config.PLUGIN: settings}} if settings else config.load()
    return Datasette([str(db)], **config.datasette_kwargs(metadata))
