"""A response held whole before any of it is sent, for the middleware that
must see all of a bounded response (a query's page or CSV: at most
max_returned_rows rows, within hkcnews/site/limits.py's result budget)
before deciding what to send."""


async def held_response(app, scope, receive):
    """(the http.response.start message, the whole body) of ``app``'s answer."""
    messages = []

    async def keep(message):
        messages.append(message)

    await app(scope, receive, keep)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start, body
