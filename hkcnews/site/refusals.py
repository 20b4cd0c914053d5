"""A request the archive will not answer, said in the form it asked for:
JSON for .json and .jsonl, text for .csv, Datasette's error page for the
rest. Used where a hook or middleware, not a view, refuses."""

from datasette.utils.asgi import Response

JSON_SUFFIXES = (".json", ".jsonl")


def refusal(datasette, request, message, status=400, headers=None):
    """An awaitable Response with ``status`` and ``message`` for ``request``."""

    async def inner():
        path = request.path
        if path.endswith(JSON_SUFFIXES):
            return Response.json({"ok": False, "error": message, "status": status}, status=status, headers=headers)
        if path.endswith(".csv"):
            return Response.text(f"{message}\n", status=status, headers=headers)
        context = {"ok": False, "error": message, "status": status, "title": None}
        page = await datasette.render_template(["error.html"], context, request=request)
        return Response.html(page, status=status, headers=headers)

    return inner
