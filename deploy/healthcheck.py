"""The web container's health check for docker-compose: GET /readyz on this container.

    python deploy/healthcheck.py [URL]      # default http://127.0.0.1:8000/readyz

Exit 0 when the app answers 200 (database, cache, vector store and worker all ready), 1
otherwise, with the reason on stderr (docker shows it in `docker inspect`). Kept free of
Django: it runs every few seconds, and importing the project costs a second of CPU.
Kubernetes probes the same endpoints with its own httpGet probes (deploy/kubernetes/).

The request names a host the app accepts (the first of DJANGO_ALLOWED_HOSTS) and says it
came over HTTPS (X-Forwarded-Proto, trusted from the proxy in production), so neither the
host check nor the HTTPS redirect turns a healthy app into a failed probe.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/readyz"


def probe_host(allowed_hosts: str) -> str:
    """A Host header the app accepts: the first concrete DJANGO_ALLOWED_HOSTS entry."""
    for entry in allowed_hosts.split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def probe(url: str, *, allowed_hosts: str, timeout_s: float = 4.0) -> tuple[bool, str]:
    request = urllib.request.Request(
        url, headers={"Host": probe_host(allowed_hosts), "X-Forwarded-Proto": "https"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status == 200, f"{response.status} {response.read(500)!r}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code} {exc.read(500)!r}"
    except OSError as exc:
        return False, f"no answer: {exc}"


def main(argv: list[str]) -> int:
    url = argv[0] if argv else DEFAULT_URL
    healthy, detail = probe(url, allowed_hosts=os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost"))
    print(f"{url}: {detail}", file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
