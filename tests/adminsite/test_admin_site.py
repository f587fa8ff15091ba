"""The admin as admins see it: unfold theme everywhere, a sidebar grouped by task that
lists every registered model once, and no link that leads to a 404."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from unfold.admin import ModelAdmin as UnfoldModelAdmin

pytestmark = pytest.mark.django_db

GROUPS = [
    "Knowledge",
    "People & tiers",
    "Models & prices",
    "Questions",
    "Cache",
    "Evaluation",
    "Alerts",
    "Chat doors",
    "System",
]


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def sidebar(client) -> BeautifulSoup:
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    nav = BeautifulSoup(page.content, "html.parser").select_one("#nav-sidebar-apps")
    assert nav is not None, "the unfold sidebar is missing"
    return nav


def test_sidebar_groups_are_what_admins_do_in_order(admin_client):
    titles = [h2.get_text(strip=True) for h2 in sidebar(admin_client).select("h2")]
    assert titles == GROUPS


def test_sidebar_lists_every_registered_admin_model_exactly_once(admin_client):
    links = [a["href"] for a in sidebar(admin_client).select("a[href]")]
    counts = {
        changelist_url(model): links.count(changelist_url(model)) for model in admin.site._registry
    }
    assert {url: n for url, n in counts.items() if n != 1} == {}
    # ...and nothing else: no dead link to a model that is not registered (the custom
    # pages are the only other entries)
    assert sorted(links) == sorted([*counts, reverse("playground")])


def test_home_page_is_the_dashboard_and_the_sidebar_still_lists_every_group(admin_client):
    page = BeautifulSoup(admin_client.get(reverse("admin:index")).content, "html.parser")
    assert page.select_one("#content #dashboard") is not None
    assert [h2.get_text(strip=True) for h2 in page.select("#nav-sidebar-apps h2")] == GROUPS


def test_sidebar_shows_a_staff_member_only_what_they_may_view(client):
    user = get_user_model().objects.create_user("editor", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_document"))
    client.force_login(user)

    nav = sidebar(client)

    assert [a["href"] for a in nav.select("a[href]")] == [
        reverse("admin:ragengine_document_changelist")
    ]
    assert [h2.get_text(strip=True) for h2 in nav.select("h2")] == ["Knowledge"]


def test_every_model_admin_uses_the_unfold_theme():
    plain = [
        f"{model._meta.label} ({type(model_admin).__name__})"
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, UnfoldModelAdmin)
    ]
    assert plain == []
    inlines = [
        f"{model._meta.label}: {inline.__name__}"
        for model, model_admin in admin.site._registry.items()
        for inline in model_admin.inlines
        if not any(base.__module__.startswith("unfold.") for base in inline.__mro__[1:])
    ]
    assert inlines == []


def test_every_changelist_and_add_form_renders_themed(admin_client):
    broken = []
    for model, model_admin in admin.site._registry.items():
        urls = [changelist_url(model)]
        if model_admin.has_add_permission(_request_for(admin_client)):
            urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))
        for url in urls:
            response = admin_client.get(url, follow=True)  # "Add document" is the upload page
            text = response.content.decode()
            if response.status_code != 200 or "unfold/css/styles" not in text:
                broken.append((url, response.status_code))
    assert broken == []


def _request_for(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username="admin")
    return request


def test_root_leads_to_the_admin_instead_of_a_404(client, admin_client):
    anonymous = client.get("/")
    assert anonymous.status_code == 302
    assert client.get(anonymous["Location"], follow=True).status_code == 200

    assert admin_client.get("/", follow=True).redirect_chain[-1][0] == reverse("admin:index")


def test_view_site_link_does_not_lead_to_a_404(admin_client):
    page = BeautifulSoup(admin_client.get(reverse("admin:index")).content, "html.parser")
    view_site = [a["href"] for a in page.select("a[href]") if a.get_text(strip=True) == "View site"]
    assert view_site, "the View site link is gone"
    for href in view_site:
        response = admin_client.get(href, follow=True)
        assert response.status_code == 200, href


def test_login_page_is_themed_without_a_link_back_to_itself(client):
    page = client.get(reverse("admin:login"))
    assert page.status_code == 200
    assert "unfold/css/styles" in page.content.decode()
    # "/" leads to the admin, which sends an anonymous visitor back to this very page
    assert "Return to site" not in page.content.decode()
