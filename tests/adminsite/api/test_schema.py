"""The OpenAPI document is valid and complete; the docs page needs no CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def api_routes() -> set[tuple[str, str]]:
    """(path, method) of every API view mounted under /api/v1/, from the URL conf."""
    routes = set()

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
                view = entry.callback
                cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
                if cls is None or route.endswith(("schema/", "docs/")):
                    continue
                path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                for method in ("get", "post", "put", "patch", "delete"):
                    if hasattr(cls, method):
                        routes.add((path, method))

    walk(get_resolver().url_patterns, "")
    return routes


def test_the_schema_validates_and_lists_every_route(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)

    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    documented = {
        (path, method) for path, operations in schema["paths"].items() for method in operations
    }
    routes = api_routes()
    assert routes, "no API routes found"
    assert routes == documented
    assert {"/api/v1/ask", "/api/v1/documents/{document_id}", "/api/v1/usage"} <= set(
        schema["paths"]
    )


def test_every_operation_requires_the_token_and_documents_its_errors():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"ApiToken": []}], (path, method)
            assert {"401", "403", "429"} <= set(operation["responses"]), (path, method)


def test_the_json_schema_is_served_too(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_docs_page_loads_its_assets_from_our_static_files(client, settings):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets, html
    prefix = "/" + settings.STATIC_URL.lstrip("/")
    for asset in assets:
        assert asset.startswith(prefix), asset
        assert finders.find(asset.removeprefix(prefix)), asset
    assert "cdn" not in html.lower() and "https://" not in html
