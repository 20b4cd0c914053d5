"""Charts of articles over time, drawn on the server as SVG: they need no
script to run, read well in any browser, and a page that holds one can be
kept whole by the page cache. Every chart has months on a continuous axis,
a <title> on each mark for the reader who hovers it, and, given ``link``,
each month's mark links to the articles behind it."""

import html

from markupsafe import Markup

WIDTH, HEIGHT = 720, 160
TOP, BOTTOM, LEFT = 12, 20, 44
# Colour-blind-safe (Okabe–Ito), one per term of the trends page.
LINE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00")


def month_index(month):
    """'2021-06' as a count of months, so that months subtract."""
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_name(index):
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def count_text(n):
    return f"{n:,} article{'' if n == 1 else 's'}"


def share_text(share):
    return f"{share:.1%} of the month's articles"


def _axis_top(most, share):
    if not share:
        return f"{most:,}"
    return f"{most:.0%}" if most >= 0.1 else f"{most:.1%}"


def _frame(css_class, label, first, last, top_value, height=HEIGHT, plot_top=TOP):
    """The <svg> opening, its title, the value axis and the year labels;
    with the plot's height and the width of a month."""
    plot_height = height - plot_top - BOTTOM
    step = (WIDTH - LEFT) / (last - first + 1)
    parts = [
        f'<svg class="{css_class}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" style="max-width: {WIDTH}px" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{html.escape(label)}, {month_name(first)} to {month_name(last)}</title>",
        f'<text x="{LEFT - 4}" y="{plot_top + 4}" font-size="10" text-anchor="end">{html.escape(top_value)}</text>',
        f'<text x="{LEFT - 4}" y="{plot_top + plot_height}" font-size="10" text-anchor="end">0</text>',
    ]
    for year in range(first // 12, last // 12 + 1):
        x = LEFT + max(year * 12 - first, 0) * step
        if x > WIDTH - 30:  # no room for the label of a year just begun
            break
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="10">{year}</text>')
    return parts, plot_height, step


def _linked(mark, url):
    return f'<a href="{html.escape(url)}">{mark}</a>' if url else mark


def month_chart_svg(counts, link=None, shares=None, label="每月文章 Articles per month", height=HEIGHT):
    """Articles per month as a bar chart, one <rect> per month that has
    articles, placed on a time axis that keeps the gaps. ``counts`` is
    [(YYYY-MM, n), …] in month order; ``link(month)`` gives a bar's URL.
    With ``shares`` ({month: share of that month's articles}), the bars
    show the shares and their titles say both."""
    if not counts:
        return ""
    first, last = month_index(counts[0][0]), month_index(counts[-1][0])
    value = dict(counts) if shares is None else {month: shares[month] for month, _ in counts}
    most = max(value.values()) or 1
    parts, plot_height, step = _frame(
        "articles-per-month", label, first, last, _axis_top(most, shares is not None), height
    )
    for month, n in counts:
        bar = plot_height * value[month] / most
        x = LEFT + (month_index(month) - first) * step
        title = count_text(n) if shares is None else f"{count_text(n)}, {share_text(shares[month])}"
        extra = "" if shares is None else f' data-share="{shares[month]:.6f}"'
        rect = (
            f'<rect class="month" data-month="{html.escape(month)}" data-count="{n}"{extra} '
            f'x="{x:.1f}" y="{TOP + plot_height - bar:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{bar:.1f}" fill="#4a6fa5"><title>{html.escape(month)}: {title}</title></rect>'
        )
        parts.append(_linked(rect, link and link(month)))
    parts.append("</svg>")
    return "\n".join(parts)


def trend_chart_svg(series, link=None, share=False, label="每月文章 Articles per month"):
    """One line per term: ``series`` is [(term, [(YYYY-MM, count, share), …]),
    …], every term over the same months in order. Each month is a point
    with a title; ``link(term, month)`` gives its URL. Plots the shares with
    ``share``, the counts without. A legend names the terms by colour."""
    if not series or not series[0][1]:
        return ""
    months = [month for month, _, _ in series[0][1]]
    first, last = month_index(months[0]), month_index(months[-1])
    pick = (lambda point: point[2]) if share else (lambda point: point[1])
    most = max(pick(point) for _, points in series for point in points) or 1
    plot_top = TOP + 18  # below the legend
    parts, plot_height, step = _frame("trends", label, first, last, _axis_top(most, share), HEIGHT + 60, plot_top)
    for i, (term, points) in enumerate(series):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        xy = [
            (
                LEFT + (month_index(month) - first + 0.5) * step,
                plot_top + plot_height * (1 - pick((month, n, s)) / most),
            )
            for month, n, s in points
        ]
        parts.append(
            f'<polyline class="term" data-term="{html.escape(term)}" fill="none" stroke="{colour}" stroke-width="1.5" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in xy)}"/>'
        )
        for (x, y), (month, n, s) in zip(xy, points, strict=True):
            point = (
                f'<circle class="point" data-term="{html.escape(term)}" data-month="{month}" data-count="{n}" '
                f'cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{html.escape(term)}, {month}: {count_text(n)}, {share_text(s)}</title></circle>"
            )
            parts.append(_linked(point, link and link(term, month)))
        x = LEFT + i * 130
        parts.append(
            f'<g class="legend"><rect x="{x}" y="0" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="10" font-size="11">{html.escape(term)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def either_chart(name, charts, more=""):
    """Several charts in one place, the reader choosing which one shows:
    ``charts`` is [(label, svg), …], the first one shown at first; ``more``
    is HTML to put under the choice. Radio buttons and CSS
    (templates/_hkc_chart_styles.html), no script."""
    inputs, panels, labels = [], [], []
    for i, (label, svg) in enumerate(charts):
        key = f"{name}-{i}"
        inputs.append(f'<input type="radio" name="{name}" id="{key}"{" checked" if i == 0 else ""}>')
        panels.append(f'<div class="hkc-chart">{svg}</div>')
        labels.append(f'<label for="{key}">{html.escape(label)}</label>')
    return Markup(
        f'<div class="hkc-charts {name}">{"".join(inputs)}{"".join(panels)}'
        f'<div class="hkc-chart-choice"><p>{"<br>".join(labels)}</p>{more}</div></div>'
    )
