"""Pictures, captions and the credits at the end of captions."""

import pytest

from hkcnews.build.figures import extract_figures, split_credit


@pytest.mark.parametrize(
    "caption,expected",
    [
        ("中美雙方代表在會議室對坐。美聯社圖片", ("中美雙方代表在會議室對坐。", "美聯社圖片")),
        ("楊潔篪在會上發言。（資料圖片）", ("楊潔篪在會上發言。", "資料圖片")),
        ("遊行人士在銅鑼灣集合 (黎卓欣攝)", ("遊行人士在銅鑼灣集合", "黎卓欣攝")),
        ("李家超出席記者會 何君健攝", ("李家超出席記者會", "何君健攝")),
        ("立法會今日開會。眾新聞製圖", ("立法會今日開會。", "眾新聞製圖")),
        ("受訪者在家中。受訪者提供", ("受訪者在家中。", "受訪者提供")),
        ("作者在台北。圖片由筆者提供", ("作者在台北。", "圖片由筆者提供")),
        ("民陣集會。民陣Facebook圖片", ("民陣集會。", "民陣Facebook圖片")),
        ("記者會現場。EYEPRESS照片", ("記者會現場。", "EYEPRESS照片")),
        ("照片來源：商經局網頁", (None, "照片來源：商經局網頁")),
        ("資料圖片", (None, "資料圖片")),
        ("Protesters in Central. Reuters", ("Protesters in Central.", "Reuters")),
        ("被告劉笑芬", ("被告劉笑芬", None)),
        ("A man holds a photo", ("A man holds a photo", None)),
        (None, (None, None)),
    ],
)
def test_split_credit(caption, expected):
    assert split_credit(caption) == expected


def test_figcaption_html_is_stripped_and_entities_decoded():
    body = '<figure>\n<img src="a.jpg" alt="A &amp; B">\n<figcaption><strong>警方</strong>&nbsp;在場戒備。<br>美聯社圖片</figcaption>\n</figure>'
    assert extract_figures(body) == [
        {
            "image_url": "a.jpg",
            "original_image_url": None,
            "alt": "A & B",
            "caption": "警方 在場戒備。",
            "credit": "美聯社圖片",
        }
    ]


def test_original_image_url_is_recovered_from_the_capture():
    body = '<figure><img src="https://web.archive.org/web/20210712041322im_/https://www.hkcnews.com/news_新聞/a.png"></figure>'
    (figure,) = extract_figures(body)
    assert figure["original_image_url"] == "https://www.hkcnews.com/news_新聞/a.png"


def test_unclosed_figure_ends_at_the_next_figure():
    body = '<figure><img src="1.jpg"><figcaption>一</figcaption>\n\n正文。\n\n<figure><img src="2.jpg"></figure>'
    assert [(f["image_url"], f["caption"]) for f in extract_figures(body)] == [("1.jpg", "一"), ("2.jpg", None)]


def test_figure_without_image_keeps_its_caption():
    (figure,) = extract_figures("<figure><figcaption>只有說明</figcaption></figure>")
    assert (figure["image_url"], figure["caption"]) == (None, "只有說明")


def test_images_and_figures_in_body_order():
    body = '![甲](1.jpg)\n\n<figure><img src="2.jpg"></figure>\n\n![乙](3.jpg "title")'
    assert [(f["image_url"], f["alt"]) for f in extract_figures(body)] == [
        ("1.jpg", "甲"),
        ("2.jpg", None),
        ("3.jpg", "乙"),
    ]


@pytest.mark.parametrize(
    "caption,expected",
    [
        ("請在這輸入 Caption。如不需要caption, 請將此行文字移除", (None, None)),
        ("請在這輸入 Captain。如不需要captain, 請將此行文字移除", (None, None)),
        ("請在這輸入 Captain。如不需要captain, 請將此行文字移除。美聯社資料圖片", (None, "美聯社資料圖片")),
        ("請在這輸入", (None, None)),
        ("請在這輸入 Caption", (None, None)),
        ("請在這輸入 Caption。如不需要caption，請將此行文字移除", (None, None)),
        ("請在這輸入Caption.如不需要caption,請將此行文字移除.", (None, None)),
    ],
    ids=["placeholder", "misspelled", "with a credit", "cut short", "no instructions", "full-width comma", "no spaces"],
)
def test_cms_placeholder_in_any_spelling_is_no_caption(caption, expected):
    (figure,) = extract_figures(f'<figure><img src="a.jpg"><figcaption>{caption}</figcaption></figure>')
    assert (figure["caption"], figure["credit"]) == expected


@pytest.mark.parametrize(
    "caption,expected",
    [
        ("請在這輸入 Caption。如不需要caption, 請將此行文字移除", (None, None)),
        ("請在這輸入 Caption。如不需要caption, 請將此行文字移除 示威者在旺角聚集", ("示威者在旺角聚集", None)),
        ("示威者在旺角聚集 請在這輸入 Caption。如不需要caption, 請將此行文字移除", ("示威者在旺角聚集", None)),
        ("示威者在旺角聚集。請在這輸入 Caption。如不需要caption, 請將此行文字移除", ("示威者在旺角聚集。", None)),
        (
            "示威者在旺角聚集。請在這輸入 Caption。如不需要caption, 請將此行文字移除。何君健攝",
            ("示威者在旺角聚集。", "何君健攝"),
        ),
        (
            "示威者在旺角聚集請在這輸入 Caption。如不需要caption, 請將此行文字移除美聯社圖片",
            ("示威者在旺角聚集", "美聯社圖片"),
        ),
        ("請在這輸入 Captain。如不需要captain, 請將此行文字移除。示威者在旺角聚集", ("示威者在旺角聚集", None)),
        ("示威者在旺角聚集 請在這輸入 Captain。如不需要captain，請將此行文字移除", ("示威者在旺角聚集", None)),
        ("示威者在旺角聚集 請在這輸入 Caption", ("示威者在旺角聚集", None)),
    ],
    ids=[
        "alone",
        "before the real text",
        "after the real text",
        "after a sentence",
        "with a credit after it",
        "between caption and credit, unspaced",
        "misspelled, before",
        "misspelled, after, full-width comma",
        "after, cut short",
    ],
)
def test_cms_placeholder_is_removed_wherever_it_stands_and_the_real_caption_kept(caption, expected):
    (figure,) = extract_figures(f'<figure><img src="a.jpg"><figcaption>{caption}</figcaption></figure>')
    assert (figure["caption"], figure["credit"]) == expected


@pytest.mark.parametrize(
    "body,captions",
    [
        # Both made html.parser raise AssertionError (found by the fuzz test).
        ("<FIGURE><![0", []),
        ("<figure><figcaption>x</figcaption><![A:", ["x"]),
        ('<figure><img src="a.jpg"><![CDATA[y]]><figcaption>說明</figcaption></figure>', ["說明"]),
        ('<figure><img src="a.jpg"><!DOCTYPE x [<!y>]><figcaption>說明</figcaption></figure>', ["說明"]),
        ('<figure><img src="a.jpg"><!--註--><figcaption>說<![if x]>明</figcaption></figure>', ["說明"]),
    ],
)
def test_declarations_inside_a_figure_are_ignored_as_a_browser_does(body, captions):
    assert [f["caption"] for f in extract_figures(body)] == captions
