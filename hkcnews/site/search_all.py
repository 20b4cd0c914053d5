"""datasette-search-all's page (/-/search?q=) over an archive: each article
it finds shows its title, date, author and the passage around its hits
(the snippet its table's JSON carries, snippets.py), instead of every
column with the Markdown body; and the search help is linked beside its box.

The page draws its results in the browser, with a function of its own
script (displayResults) for every table's JSON. The plugin's template
cannot be overridden reliably (Datasette orders the template folders of
its plugins as a set), so this script, which the extra_body_script hook
adds after the page's own, takes over that function for the rows that
carry a snippet and hands it every other table.
"""

import json

from hkcnews.ours import built_by_us

TEMPLATE = "search_all.html"

SCRIPT = """
(() => {
  const helpUrl = %(help_url)s;
  const form = document.querySelector('form[action$="/-/search"] p');
  if (form && helpUrl) {
    const help = document.createElement("a");
    help.className = "hkc-search-help";
    help.href = helpUrl;
    help.textContent = "搜尋語法 Search help";
    form.append(" ", help);
  }
  if (typeof displayResults !== "function") return;
  const stock = displayResults;
  // The passage's HTML is escaped text and <mark>: read it in an inert
  // template element and keep only text and marks all the same.
  function passage(html) {
    const inert = document.createElement("template");
    inert.innerHTML = html;
    const out = document.createElement("td");
    out.className = "col-snippet";
    inert.content.childNodes.forEach((node) => {
      if (node.nodeName === "MARK") {
        const mark = document.createElement("mark");
        mark.textContent = node.textContent;
        out.append(mark);
      } else {
        out.append(node.textContent);
      }
    });
    return out;
  }
  function cell(text, className) {
    const td = document.createElement("td");
    td.className = className;
    td.textContent = text == null ? "" : text;
    return td;
  }
  displayResults = function (data, base_url) {
    const rows = data.rows || [];
    if (!rows.length || !("snippet" in rows[0]) || !("title" in rows[0])) {
      return stock(data, base_url);
    }
    const count = data.filtered_table_rows_count || data.count || rows.length;
    const searchUrl = `${base_url}?_search=${encodeURIComponent(q.value)}`;
    const div = document.createElement("div");
    div.className = "hkc-search-all-articles";
    const h2 = document.createElement("h2");
    const link = document.createElement("a");
    link.href = searchUrl;
    link.textContent = `${Number(count).toLocaleString()} result${count == 1 ? "" : "s"}`;
    h2.append(link, ` in ${data.database}: ${data.table}`);
    const table = document.createElement("table");
    table.className = "rows-and-columns";
    const head = table.insertRow();
    for (const name of ["標題 title", "日期 date", "作者 author", "段落 snippet"]) {
      const th = document.createElement("th");
      th.textContent = name;
      head.append(th);
    }
    for (const row of rows) {
      const tr = table.insertRow();
      const title = cell("", "col-title");
      const a = document.createElement("a");
      a.href = `${base_url}/${encodeURIComponent(row.id)}`;
      a.textContent = row.title || `Article ${row.id}`;
      title.append(a);
      tr.append(title, cell(row.date, "col-date"), cell(row.author, "col-author"), passage(row.snippet || ""));
    }
    div.append(h2, table);
    if (count > rows.length) {
      const more = document.createElement("p");
      const a = document.createElement("a");
      a.href = searchUrl;
      a.textContent = `${Number(count - rows.length).toLocaleString()} more result${count - rows.length == 1 ? "" : "s"}`;
      more.append(a);
      div.append(more);
    }
    search_results.appendChild(div);
  };
})();
"""


def search_all_script(template, datasette):
    """The extra_body_script hook's answer: the script above on the
    search-all page, when an archive is served; else None."""
    if template != TEMPLATE:
        return None

    async def inner():
        archives = [name for name in datasette.databases if await built_by_us(datasette, name)]
        if not archives:
            return None
        help_url = f"{datasette.urls.database(archives[0])}/-/search-help"
        return SCRIPT % {"help_url": json.dumps(help_url)}

    return inner
