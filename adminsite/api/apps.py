from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "adminsite.api"
    label = "arandu_api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # The OpenAPI description of the token authentication (drf-spectacular extension).
        from adminsite.api import schema  # noqa: F401
