"""What one article file becomes: the seed's rows, and each quirk of the real
archive repaired or rejected."""

import pytest

from build_db import build
from hkcnews.build.articles import InvalidArticle, NotAnArticle, parse_article, split_body

from .helpers import article_md, figure_html, rows, write_articles

SEED_URL = (
    "https://www.hkcnews.com/article/39427/%E4%B8%AD%E7%BE%8E%E9%97%9C%E4%BF%82-39427/"
    "%E4%B8%AD%E7%BE%8E%E9%98%BF%E6%8B%89%E6%96%AF%E5%8A%A0%E6%9C%83%E8%AB%87"
)
SEED_IMAGES = "https://www.hkcnews.com/news_新聞/hk-discuss/2021/03/"


def test_seed_article_row_has_every_column(seed_db):
    (row,) = rows(seed_db, "select * from articles")
    body = row.pop("body")
    assert row == {
        "id": 39427,
        "title": "中美阿拉斯加會談首日激烈交鋒　布林肯提香港、台灣　楊潔篪斥美方「居高臨下」",
        "date": "2021-03-19",
        "year": 2021,
        "author": "眾新聞記者",
        "category": "國際",
        "tags": '["中美關係", "布林肯Antony Blinken", "中國駐美大使崔天凱", "阿拉斯加會談"]',
        "url": "https://web.archive.org/web/20210712063207/" + SEED_URL,
        "original_url": SEED_URL,
        "archived_at": "2021-07-12T06:32:07",
        "last_updated": None,
        "figure_count": 3,
        "char_count": 406,
        "capture_count": 1,
        "source_path": "article_39427.md",
    }
    assert body.startswith("# 中美阿拉斯加會談首日激烈交鋒")
    assert body.endswith('Blinken said the talks were "tough and direct".')


def test_seed_footer_is_not_in_the_body(seed_db):
    (row,) = rows(seed_db, "select body from articles")
    assert "訂戶" not in row["body"]
    assert "---" not in row["body"]


def test_seed_figures_in_order_with_captions_and_credits(seed_db):
    assert rows(seed_db, "select * from figures order by position") == [
        {
            "id": 1,
            "article_id": 39427,
            "position": 1,
            "image_url": "https://web.archive.org/web/20210712063207im_/"
            + SEED_IMAGES
            + "中美會談-阿拉斯加-20210319081500_a1b2_large.jpg",
            "original_image_url": SEED_IMAGES + "中美會談-阿拉斯加-20210319081500_a1b2_large.jpg",
            "alt": "中美高層會談",
            "caption": "中美雙方代表在安克雷奇的會議室對坐。",
            "credit": "美聯社圖片",
        },
        {
            "id": 2,
            "article_id": 39427,
            "position": 2,
            "image_url": "https://web.archive.org/web/20210712063207im_/"
            + SEED_IMAGES
            + "楊潔篪-王毅-20210319081600_c3d4_large.jpg",
            "original_image_url": SEED_IMAGES + "楊潔篪-王毅-20210319081600_c3d4_large.jpg",
            "alt": None,
            "caption": "楊潔篪（右）與王毅在會上發言。",
            "credit": "資料圖片",
        },
        {
            "id": 3,
            "article_id": 39427,
            "position": 3,
            "image_url": "https://web.archive.org/web/20210712063207im_/"
            + SEED_IMAGES
            + "安克雷奇-20210319081700_e5f6_large.jpg",
            "original_image_url": SEED_IMAGES + "安克雷奇-20210319081700_e5f6_large.jpg",
            "alt": None,
            "caption": None,
            "credit": None,
        },
    ]


def test_seed_tags_are_rows_linked_to_the_article(seed_db):
    assert rows(
        seed_db,
        "select tags.name, tags.article_count from article_tags join tags on tags.id = article_tags.tag_id "
        "where article_tags.article_id = 39427 order by tags.id",
    ) == [
        {"name": "中美關係", "article_count": 1},
        {"name": "布林肯Antony Blinken", "article_count": 1},
        {"name": "中國駐美大使崔天凱", "article_count": 1},
        {"name": "阿拉斯加會談", "article_count": 1},
    ]


def parse(tmp_path, text, name="x.md", data=None):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        path.write_bytes(data)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return parse_article(path, name)


def test_author_box_after_footer_becomes_an_author_not_body(tmp_path):
    box = (
        "\n---\n\n![博客 | Yuen Chan](https://web.archive.org/web/20210712063207im_/https://www.hkcnews.com/uploads/avatars/a.png?1)\n\n"
        "**博客 | Yuen Chan**\n\n資深新聞工作者，在大學教授新聞。\n"
    )
    parsed = parse(tmp_path, article_md(60001, "評論", "評論正文。", author="Yuen Chan") + box)
    assert parsed["article"]["body"] == "# 評論\n\n評論正文。"
    assert parsed["article"]["figure_count"] == 0
    assert parsed["author"] == {
        "name": "Yuen Chan",
        "role": "博客",
        "bio": "資深新聞工作者，在大學教授新聞。",
        "avatar_url": "https://web.archive.org/web/20210712063207im_/https://www.hkcnews.com/uploads/avatars/a.png?1",
    }


def test_authors_table_keeps_the_newest_bio_and_every_byline(tmp_path):
    def with_box(number, date, bio):
        box = f"\n---\n\n![博客 | 陳某](https://example.org/avatars/{number}.png)\n\n**博客 | 陳某**\n\n{bio}\n"
        return article_md(number, f"文章{number}", "正文。", author="陳某", date=date) + box

    folder = write_articles(
        tmp_path / "in",
        {
            "1.md": with_box(70001, "2019-01-01", "舊的簡介。"),
            "2.md": with_box(70002, "2021-01-01", "新的簡介。"),
            "3.md": article_md(70003, "新聞", "正文。", author="眾新聞記者"),
        },
    )
    build(folder, tmp_path / "news.db")
    assert rows(tmp_path / "news.db", "select * from authors order by name") == [
        {"name": "眾新聞記者", "role": None, "bio": None, "avatar_url": None, "article_count": 1},
        {
            "name": "陳某",
            "role": "博客",
            "bio": "新的簡介。",
            "avatar_url": "https://example.org/avatars/70002.png",
            "article_count": 2,
        },
    ]


def test_markdown_images_count_as_figures(tmp_path):
    body = (
        "第一段。\n\n![示威現場](https://web.archive.org/web/2021im_/https://www.hkcnews.com/a.jpg)\n\n"
        + figure_html("b", "說明。美聯社圖片")
    )
    parsed = parse(tmp_path, article_md(60002, "題", body))
    assert [(f["position"], f["alt"], f["caption"], f["credit"]) for f in parsed["figures"]] == [
        (1, "示威現場", None, None),
        (2, None, "說明。", "美聯社圖片"),
    ]


def test_cms_placeholder_caption_is_null(tmp_path):
    body = figure_html("c", "請在這輸入 Caption。如不需要caption, 請將此行文字移除")
    (figure,) = parse(tmp_path, article_md(60003, "題", body))["figures"]
    assert figure["caption"] is None and figure["credit"] is None


@pytest.mark.parametrize(
    "front_matter_line,expected",
    [
        ("date: 2021-03-19", "2021-03-19"),  # YAML parses it as a date
        ('date: "2021-03-19"', "2021-03-19"),
        ('date: "2021-03-19 08:15:00"', "2021-03-19"),
        ('date: ""', None),
    ],
)
def test_dates_become_iso_text(tmp_path, front_matter_line, expected):
    text = article_md(60004, "題", "正文。").replace('date: "2021-06-01"', front_matter_line)
    parsed = parse(tmp_path, text)
    assert (parsed["article"]["date"], parsed["article"]["year"]) == (expected, int(expected[:4]) if expected else None)


@pytest.mark.parametrize(
    "tags_yaml,expected",
    [
        ('tags:\n  - " 香港 "\n  - "台灣"\n  - "香港"', ["香港", "台灣"]),
        ("tags: []", []),
        ("tags:", []),
        ('tags: "單一標籤"', ["單一標籤"]),
        ('tags:\n  - 2021\n  - ""', ["2021"]),
    ],
)
def test_tags_are_trimmed_deduplicated_strings(tmp_path, tags_yaml, expected):
    text = article_md(60005, "題", "正文。").replace("tags: []", tags_yaml)
    assert parse(tmp_path, text)["article"]["tags"] == expected


def test_missing_tags_line_gives_empty_list(tmp_path):
    text = article_md(60005, "題", "正文。").replace("tags: []\n", "")
    assert parse(tmp_path, text)["article"]["tags"] == []


def test_control_characters_in_front_matter_are_removed_with_a_warning(tmp_path):
    text = article_md(60006, "標\x1c題\x08", "正文。")
    parsed = parse(tmp_path, text)
    assert parsed["article"]["title"] == "標題"
    assert parsed["warnings"] == ["x.md: removed control characters U+0008, U+001C from front matter"]


def test_crlf_line_endings_are_repaired_with_a_warning(tmp_path):
    text = article_md(60007, "題", "第一段。\n\n第二段。").replace("\n", "\r\n")
    parsed = parse(tmp_path, text)
    assert parsed["article"]["body"] == "# 題\n\n第一段。\n\n第二段。"
    assert parsed["warnings"] == ["x.md: CRLF line endings"]


def test_capture_with_every_field_empty_parses_to_empty_columns(tmp_path):
    text = '---\ntitle: ""\ndate: ""\nauthor: ""\ncategory: ""\ntags: []\nurl: ""\noriginal_url: ""\n---\n'
    parsed = parse(tmp_path, text, name="empty/article_1.md")
    article = parsed["article"]
    assert article["id"] > 10**7
    assert {k: v for k, v in article.items() if k != "id"} == {
        "title": None,
        "date": None,
        "year": None,
        "author": None,
        "category": None,
        "tags": [],
        "url": None,
        "original_url": None,
        "archived_at": None,
        "last_updated": None,
        "body": None,
        "figure_count": 0,
        "char_count": 0,
        "source_path": "empty/article_1.md",
    }
    assert parsed["warnings"] == []


def test_id_from_path_is_stable(tmp_path):
    text = '---\ntitle: "無網址"\n---\n正文。\n'
    assert parse(tmp_path, text, "a/b.md")["article"]["id"] == parse(tmp_path, text, "a/b.md")["article"]["id"]
    assert parse(tmp_path, text, "a/b.md")["article"]["id"] != parse(tmp_path, text, "a/c.md")["article"]["id"]


def test_last_updated_is_kept_and_unknown_fields_warned(tmp_path):
    text = article_md(60008, "題", "正文。").replace(
        "---\ntitle", '---\nlast_updated: "2020-08-09 07:14:17"\nmood: "happy"\ntitle', 1
    )
    parsed = parse(tmp_path, text)
    assert parsed["article"]["last_updated"] == "2020-08-09T07:14:17"
    assert parsed["warnings"] == ["x.md: unknown front matter fields ignored: mood"]


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("bytes.md", b'---\ntitle: "\xff\xfe"\n---\n', "bytes.md: not UTF-8 (byte 0xff at offset 12)"),
        ("yaml.md", b"---\ntitle: [unclosed\n---\n", "yaml.md: front matter is not valid YAML"),
        ("date.md", b'---\ndate: "2021-13-45"\n---\n', "date.md: date '2021-13-45' is not a date"),
        ("numberdate.md", b"---\ndate: 20210319\n---\n", "numberdate.md: date '20210319' is not a date"),
    ],
)
def test_unreadable_files_are_invalid_with_their_name_and_reason(tmp_path, name, data, message):
    with pytest.raises(InvalidArticle) as error:
        parse(tmp_path, None, name=name, data=data)
    assert str(error.value).startswith(message)


def test_markdown_without_front_matter_is_not_an_article(tmp_path):
    with pytest.raises(NotAnArticle, match=r"^notes\.md: no front matter, not an article$"):
        parse(tmp_path, "# Notes\n\nNot an article.\n", name="notes.md")


def test_footer_variant_without_author_box_is_cut():
    content = "正文。\n\n---\n\n我們的眾籌活動已結束，謝謝你們的支持。你可以加入成為眾新聞的月費訂戶。\n"
    assert split_body(content) == ("正文。", None)


def test_rule_inside_the_article_is_kept():
    content = "上半。\n\n---\n\n下半。\n\n---\n\n請加入成為眾新聞的月費訂戶，長期支持我們的工作。\n"
    assert split_body(content) == ("上半。\n\n---\n\n下半。", None)


def test_author_box_without_footer_is_not_body():
    content = "正文。\n\n---\n\n![博客 | 桑普](https://example.org/avatars/1.png)\n\n**博客 | 桑普**\n\n政治評論人。\n"
    body, box = split_body(content)
    assert body == "正文。"
    assert box == "![博客 | 桑普](https://example.org/avatars/1.png)\n\n**博客 | 桑普**\n\n政治評論人。"


def as_pt154(text):
    """UTF-8 read as PT154: how one file of the backup came to say зңҫиӘӘ."""
    return text.encode("utf-8").decode("ptcp154")


def test_mojibake_fields_and_body_are_repaired_with_a_warning(tmp_path):
    original = article_md(60009, "失業回落", "上周公佈的失業率下跌。", category="眾說", tags=["失業率", "經濟"])
    head, _, rest = original.partition("url:")
    parsed = parse(tmp_path, as_pt154(head) + "url:" + rest)
    article = parsed["article"]
    assert as_pt154("眾說") == "зңҫиӘӘ"
    assert (article["title"], article["category"], article["tags"]) == ("失業回落", "眾說", ["失業率", "經濟"])
    assert parsed["warnings"] == ["x.md: repaired mojibake (UTF-8 read as PT154) in title, author, category, tags"]

    parsed = parse(
        tmp_path, original.replace("上周公佈的失業率下跌。", as_pt154("上周公佈的失業率下跌。") + "\n\nЗдравствуйте.")
    )
    assert parsed["article"]["body"] == "# 失業回落\n\n上周公佈的失業率下跌。\n\nЗдравствуйте."
    assert parsed["warnings"] == ["x.md: repaired mojibake (UTF-8 read as PT154) in body"]


@pytest.mark.parametrize("text", ["Москва", "Здравствуйте, мир", "眾說", "", "Putin 普京 Путин"])
def test_text_that_is_not_mojibake_is_left_alone(tmp_path, text):
    parsed = parse(tmp_path, article_md(60010, text or "題", "正文。", category=text))
    assert parsed["article"]["category"] == (text or None)
    assert parsed["warnings"] == []
