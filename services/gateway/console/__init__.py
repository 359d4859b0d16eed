"""The agency console at ``/console/``: server-rendered pages (aiohttp-jinja2, htmx) over
the services' own APIs, called with the signed-in key, so every page sees exactly what
that key may see."""
