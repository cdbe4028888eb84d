"""The pages both sources share, and the replica's own: the firewall's block page, the 500 page, 404,
and the replica's home page (pure functions); and what every page module uses: HTML escaping and the
type of a JSON answer."""

from __future__ import annotations

import html
from typing import Any

#: A JSON object as the sources answer it.
JsonObject = dict[str, Any]


def escape(text: str) -> str:
    """``text`` safe inside HTML text and attribute values (quotes escaped too)."""
    return html.escape(text, quote=True)


def block_page(support_id: str) -> str:
    """The F5 firewall's rejection page (answered with HTTP 200), with its support ID."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Request Rejected</title>
<style>
body {{ font-family: Verdana, sans-serif; background: #fafafa; }}
.blocked {{ color: #c00; font-size: 20px; }}
.authenticate {{ color: #333; font-size: 16px; }}
</style>
</head>
<body>
<div class="wrapper">
<h1 class="blocked">The requested URL was rejected. Please consult with your administrator.</h1>
<h2 class="authenticate">Your support ID is: <span class="support-id">{escape(support_id)}</span></h2>
<p><a href="javascript:history.back();">[Go Back]</a></p>
</div>
</body>
</html>
"""


def error_500_page(host: str) -> str:
    """The full error page a GET sometimes gets instead of the form."""
    return f"""<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>500 Internal Server Error</title>
</head><body>
<h1>Internal Server Error</h1>
<p>The server encountered an internal error or
misconfiguration and was unable to complete
your request.</p>
<p>Please contact the server administrator at
 webmaster@localhost to inform them of the time this error occurred,
 and the actions you performed just before this error.</p>
<p>More information about this error may be available
in the server error log.</p>
<hr>
<address>Apache Server at {escape(host)}</address>
</body></html>
"""


def not_found_page(path: str) -> str:
    """404 for paths the replica does not serve."""
    return (
        "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>"
        f"<h1>Not Found</h1><p>The requested URL {escape(path)} was not found on this server.</p>"
        "</body></html>"
    )


#: The reason phrase of each status a ``http4xx`` fault answers with.
_REASONS = {
    404: "Not Found",
    407: "Proxy Authentication Required",
    410: "Gone",
    429: "Too Many Requests",
}


def status_page(status: int, path: str) -> str:
    """The short page a front server answers a ``http4xx`` fault with (Apache's shape)."""
    if status == 404:
        return not_found_page(path)
    reason = _REASONS[status]
    return (
        f"<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body>"
        f"<h1>{reason}</h1><p>{escape(path)}</p></body></html>"
    )


def index_page(*, wsp_url: str, censo_url: str, table_markdown: str) -> str:
    """The replica's home page: links to both sources and the outcome table (English: it is ours)."""
    rows = []
    for line in table_markdown.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>django-cedula replica</title></head>
<body>
<h1>django-cedula: local replica of the Registraduría census lookup</h1>
<ul>
<li>Source A ("wsp" page): <a href="{escape(wsp_url)}">{escape(wsp_url)}</a></li>
<li>Source B ("consultacenso" app): <a href="{escape(censo_url)}">{escape(censo_url)}</a></li>
</ul>
<h2>Outcome table</h2>
<table border="1" cellpadding="4">
<thead><tr><th>Number</th><th>Outcome</th><th>What the replica does</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
