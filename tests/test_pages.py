"""The pages the bundle adds or changes, through the real Datasette app:
article pages, table rows, thumbnails, the home page, the feed, and
metadata.yml applying to a database of any name."""

import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

from hkcnews.site.charts import month_chart_svg
from hkcnews.site.safe_html import absolute_url, article_html
from hkcnews.site.template_data import ARTICLE_LIST_COLUMNS

from .helpers import configured, datasette_for, html_of, table_json


@pytest.fixture
def archive(archive_db):
    return datasette_for(archive_db)


@pytest.mark.parametrize(
    "markdown, absent",
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src="https://x.org/a.jpg" onerror="alert(1)">', "onerror"),
        ("[x](javascript:alert(1))", "javascript:"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe"),
        ('<div style="background:url(javascript:alert(1))">x</div>', "style="),
        ("<svg onload=alert(1)>", "<svg"),
        ('<figure><img src="data:text/html;base64,PHNjcmlwdD4="></figure>', "data:"),
        ("<p>unclosed <b>bold <figure><figcaption>caption", "<script"),
    ],
)
def test_article_html_drops_everything_that_runs(markdown, absent):
    assert absent not in article_html(markdown).lower()


@pytest.mark.parametrize(
    "caption, shown",
    [
        ("請在這輸入 Caption。如不需要caption, 請將此行文字移除", "<figcaption></figcaption>"),
        ("警方到場。請在這輸入 Caption。如不需要caption, 請將此行文字移除", "<figcaption>警方到場。</figcaption>"),
        ("請在這輸入 Captain。如不需要captain, 請將此行文字移除 警方到場", "<figcaption>警方到場</figcaption>"),
    ],
)
def test_an_article_page_shows_a_caption_without_the_cms_placeholder(caption, shown):
    html = article_html(
        f'<figure><img src="https://example.com/a.jpg" alt=""><figcaption>{caption}</figcaption></figure>'
    )
    assert shown in html
    assert "請在這輸入" not in html


def test_article_html_keeps_figures_tables_and_quotes():
    body = (
        "# headline\n\n> 引文\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n"
        '<figure>\n<img src="https://web.archive.org/web/1im_/https://www.hkcnews.com/a.jpg" alt="圖">\n'
        "<figcaption>圖說。何君健攝</figcaption>\n</figure>\n"
    )
    assert article_html(body) == (
        "<blockquote>\n<p>引文</p>\n</blockquote>\n"
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
        "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n"
        '<figure>\n<img src="https://web.archive.org/web/1im_/https://www.hkcnews.com/a.jpg" alt="圖" loading="lazy">\n'
        "<figcaption>圖說。何君健攝</figcaption>\n</figure>"
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "/web/20210712063207/https://www.fmprc.gov.cn/",
            "https://web.archive.org/web/20210712063207/https://www.fmprc.gov.cn/",
        ),
        (
            "//web.archive.org/web/1if_/https://www.youtube.com/embed/x",
            "https://web.archive.org/web/1if_/https://www.youtube.com/embed/x",
        ),
        ("https://www.hkcnews.com/article/1", "https://www.hkcnews.com/article/1"),
        ("javascript:alert(1)", None),
        (" JAVASCRIPT:alert(1)", None),
        ("vbscript:x", None),
        ("relative/path", None),
        ("", None),
    ],
)
def test_absolute_url(url, expected):
    assert absolute_url(url) == expected


def test_archive_relative_link_points_to_the_archive_host():
    assert article_html("[官方網站](/web/20210712063207/https://www.fmprc.gov.cn/t1.shtml)") == (
        '<p><a href="https://web.archive.org/web/20210712063207/https://www.fmprc.gov.cn/t1.shtml" '
        'rel="nofollow noopener noreferrer">官方網站</a></p>'
    )


def test_video_shortcode_becomes_a_link():
    html = article_html('{{< video src="//web.archive.org/web/20210630195630if_/https://www.youtube.com/embed/5A" >}}')
    assert html == (
        '<p><a href="https://web.archive.org/web/20210630195630if_/https://www.youtube.com/embed/5A" '
        'rel="nofollow noopener noreferrer">▶ 影片 Video</a></p>'
    )


def test_month_chart_has_a_bar_per_month_on_a_time_axis():
    svg = month_chart_svg([("2020-11", 4), ("2021-01", 2)])
    bars = re.findall(
        r'<rect class="month" data-month="([\d-]+)" data-count="(\d+)" x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)"',
        svg,
    )
    # Three months on the axis, December empty: the January bar stands two steps on.
    assert [(m, c) for m, c, _, _ in bars] == [("2020-11", "4"), ("2021-01", "2")]
    (x1, h1), (x2, h2) = [(float(x), float(h)) for _, _, x, h in bars]
    assert h1 == 2 * h2
    assert x2 - x1 == pytest.approx(2 * (720 - 44) / 3, abs=0.2)
    ET.fromstring(svg)  # well-formed


async def test_article_page_shows_the_article(archive):
    html = await html_of(archive, "/archive/articles/39427")
    assert "<title>中美阿拉斯加會談首日激烈交鋒" in html
    assert '<time datetime="2021-03-19">2021-03-19</time>' in html
    assert (
        '<a class="tag" href="/archive/articles?tags__arraycontains=%E4%B8%AD%E7%BE%8E%E9%97%9C%E4%BF%82">中美關係</a>'
        in html
    )
    assert '<a class="hkc-category" href="/archive/articles?category=%E5%9C%8B%E9%9A%9B">國際</a>' in html
    assert (
        '<a class="hkc-author" href="/archive/articles?author=%E7%9C%BE%E6%96%B0%E8%81%9E%E8%A8%98%E8%80%85">眾新聞記者</a>'
        in html
    )
    assert html.count("<figure>") == 3
    assert "<figcaption>中美雙方代表在安克雷奇的會議室對坐。美聯社圖片</figcaption>" in html
    assert "訂戶" not in html  # the footer is not part of the article


async def test_hostile_article_page_shows_its_fields_as_text(archive):
    html = await html_of(archive, "/archive/articles/50066")
    assert "惡意標題&lt;script&gt;window.__pwned = 1; alert(&#39;title&#39;)&lt;/script&gt;</h1>" in html
    assert "&lt;b onmouseover=&#39;alert(1)&#39;&gt;壞作者&lt;/b&gt;" in html
    body = html.split('<div class="hkc-body" lang="zh-Hant-HK">')[1].split("</div>")[0]
    assert "<script" not in body and "onerror" not in body and "onload" not in body and "javascript:" not in body
    assert "<script>window.__pwned" not in html


async def test_articles_table_shows_a_readable_row_per_article(archive):
    html = await html_of(archive, "/archive/articles", _search="崔天凱")
    columns = re.findall(r'<th [^>]*data-column="([^"]+)"', html)
    # A search's passage stands after the title (snippets.py).
    assert columns == ["id", "title", "snippet", *ARTICLE_LIST_COLUMNS[2:]]
    assert '<td class="col-title type-str"><a href="/archive/articles/39427">中美阿拉斯加會談首日激烈交鋒' in html
    assert "美國國務卿布林肯" not in html  # no body cells: the passage is around the hit


async def test_articles_table_shows_columns_asked_for(archive):
    html = await html_of(archive, "/archive/articles", _col="body", _search="崔天凱")
    assert re.findall(r'<th [^>]*data-column="([^"]+)"', html) == ["id", "body"]


async def test_hostile_tags_on_the_table_page_are_text(archive):
    html = await html_of(archive, "/archive/articles", _search="惡意")
    assert (
        '<a class="tag" href="/archive/articles?tags__arraycontains=%3Cscript%3Ealert%28%27tag%27%29%3C%2Fscript%3E">&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;</a>'
        in html
    )
    assert "<script>alert" not in html


async def test_figures_table_shows_lazy_thumbnails(archive):
    html = await html_of(archive, "/archive/figures", article_id="50005")
    src = "https://web.archive.org/web/20210712063207im_/https://www.hkcnews.com/news_新聞/hk-discuss/2021/06/fireworks.jpg"
    assert f'<a href="{src}" title="{src}"><img src="{src}" alt="" loading="lazy"' in html


async def test_downloads_carry_the_stored_values_not_the_rendered_html(archive):
    csv_text = await html_of(archive, "/archive/figures.csv", article_id="50005")
    assert "<img" not in csv_text and "fireworks.jpg" in csv_text
    rows = (await archive.client.get("/archive/articles.json", params={"id": "50066", "_shape": "array"})).json()
    assert rows[0]["tags"] == '["<script>alert(\'tag\')</script>", "天氣"]'
    assert rows[0]["body"].startswith("# 惡意標題<script>")


async def test_home_page_says_what_the_archive_holds(archive):
    html = await html_of(archive, "/")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert (
        "7 articles from 2020-01-11 to 2021-10-01 (7 captures in the backup), 5 pictures, 9 tags and 3 authors in archive."
        in text
    )
    assert 'action="/-/search"' in html  # datasette-search-all
    assert '<form class="core" action="/archive/articles" method="get">' in html
    for query in ("search", "tag_counts", "articles_for_tag", "feed", "articles_per_month", "figures_by_credit"):
        assert f'href="/archive/{query}"' in html
    assert re.findall(r'<rect class="month" data-month="([\d-]+)"', html) == [
        "2020-01",
        "2021-03",
        "2021-06",
        "2021-07",
        "2021-10",
    ]


@pytest.mark.parametrize("path", ["/", "/archive"])
async def test_the_language_pages_tables_are_not_listed_beside_the_readers(archive, path):
    html = await html_of(archive, path)
    listed = set(re.findall(r'<a href="/archive/([a-z_]+)"[^>]*>[a-z_]+</a>', html))
    assert {"articles", "figures"} <= listed
    assert listed.isdisjoint({"ngrams", "article_texts", "words", "ngram_arrays", "build_info"})


async def test_a_table_not_listed_is_still_served(archive):
    response = await archive.client.get("/archive/ngrams.json", params={"_size": "1", "_extra": "columns"})
    assert (response.status_code, response.json()["columns"]) == (200, ["ngram", "documents", "occurrences"])


async def test_home_page_month_bars_link_to_their_month_s_articles(archive):
    html = await html_of(archive, "/")
    bars = re.findall(r'<a href="([^"]+)"><rect class="month" data-month="([\d-]+)" data-count="(\d+)"', html)
    assert [(url, month) for url, month, _ in bars][:2] == [
        ("/archive/articles?date__startswith=2020-01", "2020-01"),
        ("/archive/articles?date__startswith=2021-03", "2021-03"),
    ]
    _, _, count = bars[0]
    narrowed = await table_json(archive, "/archive/articles.json", date__startswith="2020-01", _shape="objects")
    assert [r["date"][:7] for r in narrowed["rows"]] == ["2020-01"] * int(count)


async def test_home_page_links_to_the_database_file_with_its_size(archive_db):
    served = Datasette(immutables=[str(archive_db)], **configured())  # as hkcnews.serve serves it
    html = await html_of(served, "/")
    mb = archive_db.stat().st_size / 1e6
    assert (
        f'<a class="hkc-download" href="/archive.db">下載資料庫 Download the database</a>\n    (SQLite, {mb:,.1f} MB).'
        in html
    )
    download = await served.client.get("/archive.db")
    assert download.status_code == 200 and download.content == archive_db.read_bytes()


async def test_no_download_link_where_datasette_offers_none(archive):
    # A mutable file (plain `datasette serve`): Datasette refuses to send it.
    assert "hkc-download" not in await html_of(archive, "/")
    assert (await archive.client.get("/archive.db")).status_code == 403


async def test_atom_feed_of_the_newest_articles(archive):
    response = await archive.client.get("/archive/feed.atom")
    assert response.status_code == 200
    feed = ET.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert feed.find("a:title", ns).text == "最新文章 Newest articles"
    entries = feed.findall("a:entry", ns)
    assert [e.find("a:id", ns).text for e in entries][:3] == [
        "tag:hkcnews.com,2022:article/50005",
        "tag:hkcnews.com,2022:article/50004",
        "tag:hkcnews.com,2022:article/50003",
    ]
    assert len(entries) == 7
    hostile = next(e for e in entries if e.find("a:id", ns).text.endswith("/50066"))
    assert hostile.find("a:title", ns).text == "惡意標題<script>window.__pwned = 1; alert('title')</script>"
    assert "<script" not in hostile.find("a:content", ns).text


async def test_home_page_counts_come_in_chinese_before_the_english(archive):
    html = await html_of(archive, "/")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "7 篇文章、5 張圖片、9 個標籤、3 位作者 7 articles from 2020-01-11" in text


@pytest.mark.parametrize(
    "fragment",
    [
        # The search form.
        '<label for="hkc-search-1">搜尋文章 Search articles</label>',
        '<input type="submit" value="搜尋 Search">',
        '<a class="hkc-search-help" href="/archive/-/search-help">搜尋語法 Search help</a>',
        # Headings.
        "<h3>每月文章 Articles per month</h3>",
        "<h3>現成查詢 Ready-made queries</h3>",
        # Links.
        '<a class="hkc-trends-link" href="/archive/-/trends">比較詞語走勢 Compare terms over time</a>',
        '<a class="hkc-on-this-day-link" href="/archive/-/on-this-day">當年今日 On this day</a>',
        '<a href="/archive/feed.atom">最新文章 Atom 訂閱 Atom feed of the newest articles</a>',
        # The month chart's title.
        "<title>每月文章 Articles per month, 2020-01 to 2021-10</title>",
        # The ready-made queries, by their titles.
        '<a href="/archive/search">搜尋文章 Search articles, most relevant first</a>',
        '<a href="/archive/feed">最新文章 Newest articles</a>',
        '<a href="/archive/tag_counts">標籤及文章數目 Tags by number of articles</a>: 各標籤的文章數目。',
        # The site's title.
        "<title>眾新聞 Citizen News archive",
    ],
)
async def test_home_page_labels_are_in_chinese_and_english(archive, fragment):
    assert fragment in await html_of(archive, "/")


def test_every_metadata_title_and_description_begins_in_chinese():
    metadata = yaml.safe_load((Path(__file__).parent.parent / "metadata.yml").read_text(encoding="utf-8"))
    news = metadata["databases"]["news"]
    texts = [metadata["title"], metadata["description_html"], news["description"]]
    texts += [table["description"] for table in news["tables"].values()]
    for query in news["queries"].values():
        texts += [query["title"], query.get("description") or query["description_html"]]
    chinese_first = re.compile(r"^(<p[^>]*>)?[\u4e00-\u9fff]")
    assert [t for t in texts if not chinese_first.match(t)] == []


async def test_metadata_applies_whatever_the_database_is_called(archive):
    data = await table_json(archive, "/archive/articles.json")
    assert set(data["facet_results"]) == {"category", "tags", "author", "year"}
    html = await html_of(archive, "/archive/search", q="崔天凱")
    assert "Search articles, most relevant first" in html
    assert "<mark>崔天凱</mark>" in html


async def test_other_databases_keep_datasette_pages(tmp_path, archive_db):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table articles (id integer primary key, title text, tags text, body text)")
        conn.execute("""insert into articles values (1, 'plain', '["a"]', '# Not rendered <b>here</b>')""")
    ds = Datasette([str(archive_db), str(other)], **configured())
    html = await html_of(ds, "/other/articles/1")
    assert "hkc-article" not in html and "# Not rendered &lt;b&gt;here&lt;/b&gt;" in html
    table = await html_of(ds, "/other/articles")
    assert re.findall(r'<th [^>]*data-column="([^"]+)"', table) == ["id", "title", "tags", "body"]
    assert (await ds.client.get("/other/search")).status_code == 404


async def test_the_article_pages_labels_are_in_chinese_and_english(ds):
    html = await html_of(ds, "/news/articles/39427")
    for label in (
        "標籤 Tags",
        "存檔 Archived capture",
        '存檔版本 <span lang="en">Captures</span>',
        "下載 This data as",
    ):
        assert label in html
