"""Arandu settings: everything comes from environment variables, with embedded defaults.

Defaults give a working single machine with no external service: SQLite, the django-q2
ORM broker, the local vector store, the local embedder and extractive answers. Bad values
fail at start-up with a message naming the variable (django-environ + `_require`).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from adminsite.private_files import create_private_file_once, private_dir
from adminsite.sentry import release_name, sentry_start
from adminsite.web import metrics_process_dir, web_address
from ragengine.key_policy import KeyEnvPolicy, allow_list_problem

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ImproperlyConfigured(message)


# --- On-disk state: one directory holds the SQLite file, the local store and uploads.
# Created 0700, its secret files 0600 from the start (adminsite/private_files.py).
ARANDU_DATA_DIR = private_dir(
    Path(env.str("ARANDU_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
)
MEDIA_ROOT = ARANDU_DATA_DIR / "uploads"
MEDIA_URL = "/media/"
# Files one admin upload may carry (Django's default, 100, is below a folder's worth).
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("ARANDU_MAX_UPLOAD_FILES", default=1000)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY if set; otherwise a random key kept in the data directory, so a
    fresh machine runs without configuration and no key is ever committed."""
    value = env.str("DJANGO_SECRET_KEY", default="")
    if value:
        return value
    key_file = ARANDU_DATA_DIR / "secret_key"
    return create_private_file_once(key_file, secrets.token_urlsafe(50)).strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])


def _env_bool(name: str) -> bool:
    """A boolean variable, default false; anything but true/false/1/0/yes/no/on/off fails."""
    value = env.str(name, default="false").strip().lower()
    _require(
        value in {"true", "false", "1", "0", "yes", "no", "on", "off", ""},
        f"{name} must be true or false, got {value!r}.",
    )
    return value in {"true", "1", "yes", "on"}


def _env_bool_default_true(name: str) -> bool:
    """A boolean variable, default true (unset or empty); bad values fail as in _env_bool."""
    return env.str(name, default="").strip() == "" or _env_bool(name)


# --- HTTPS. Off by default, so `make run` serves http://127.0.0.1:8000; docker-compose.yml
# switches everything on for a deployment behind a TLS-terminating proxy.
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT")
# container health checks and in-cluster scrapes speak plain HTTP
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
_require(SECURE_HSTS_SECONDS >= 0, "DJANGO_SECURE_HSTS_SECONDS must be >= 0 (0 = no HSTS).")
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = _env_bool("DJANGO_SECURE_HSTS_PRELOAD")
SESSION_COOKIE_SECURE = _env_bool("DJANGO_SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = _env_bool("DJANGO_CSRF_COOKIE_SECURE")
# "HTTP_X_FORWARDED_PROTO,https": trust the proxy's header saying the request came over
# HTTPS. Only safe when clients cannot reach the app server except through that proxy.
_proxy_header = env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])
_require(
    not _proxy_header
    or (
        len(_proxy_header) == 2
        and _proxy_header[0].startswith("HTTP_")
        and _proxy_header[0].replace("_", "").isalnum()
        and _proxy_header[0].isupper()
        and bool(_proxy_header[1])
    ),
    "DJANGO_SECURE_PROXY_SSL_HEADER must be a request.META header name and the value meaning "
    "HTTPS, e.g. HTTP_X_FORWARDED_PROTO,https.",
)
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) if _proxy_header else None

INSTALLED_APPS = [
    "unfold",  # the admin theme: before django.contrib.admin so its templates win
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from our static files, never a CDN
    "django_q",
    "adminsite",
    "adminsite.api",
    "ragengine",
    "botcore",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the web process itself (no CDN, no separate server): hashed names
    # cached for a year, gzip when the browser accepts it.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The request id (X-Request-ID) binds before anything that logs (static files don't).
    "adminsite.request_ids.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "adminsite.urls"
WSGI_APPLICATION = "adminsite.wsgi.application"
ASGI_APPLICATION = "adminsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "adminsite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{ARANDU_DATA_DIR / 'arandu.sqlite3'}")
}
# Reuse connections across requests and bot events (checked before reuse).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend, creating the database file 0600 (its journals follow).
    DATABASES["default"]["ENGINE"] = "adminsite.private_sqlite"
    # WAL lets the web process, the worker and the bots read while ingestion writes;
    # IMMEDIATE transactions take the write lock up front, so budget checks that read
    # then write (reserve) are serialised instead of racing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
    # The dashboard's covering indexes (INCLUDE columns) are PostgreSQL's; on SQLite the
    # same indexes are plain ones, which is all the embedded default needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _REDIS_URL,
            # A Redis that stops answering must fail fast: the answer cache then goes on
            # without it (ragengine.services.cache_backend).
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
        if _REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("ARANDU_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# `collectstatic` writes here (`serve` runs it at start; the Docker image at build time,
# outside the data volume so an upgraded image never serves last version's files).
STATIC_ROOT = Path(env.str("ARANDU_STATIC_ROOT", default=str(ARANDU_DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Web server: `serve` and `runweb` run gunicorn with these (adminsite/web.py).
try:
    ARANDU_ADDRESS = web_address(env.str("ARANDU_ADDRESS", default="127.0.0.1:8000"))
except ValueError as exc:
    raise ImproperlyConfigured(f"ARANDU_ADDRESS: {exc}") from None
# Two workers suit a 2-core machine: a worker takes ~100 MB, ~300 MB once it has loaded
# the embedder to answer a Slack HTTP event; threads cover requests that wait on the
# database or a model.
ARANDU_WEB_WORKERS = env.int("ARANDU_WEB_WORKERS", default=2)
ARANDU_WEB_THREADS = env.int("ARANDU_WEB_THREADS", default=4)
_require(ARANDU_WEB_WORKERS >= 1, "ARANDU_WEB_WORKERS must be at least 1.")
_require(ARANDU_WEB_THREADS >= 1, "ARANDU_WEB_THREADS must be at least 1.")

# --- Admin theme (django-unfold): the sidebar groups models by what admins do.
UNFOLD = {
    "SITE_TITLE": "Arandu",
    "SITE_HEADER": "Arandu",
    "SITE_SUBHEADER": "Company knowledge bot",
    "SITE_SYMBOL": "forum",
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": "adminsite.theme.favicon_url"}
    ],
    "SITE_URL": "adminsite.theme.site_url",  # "/": the admin home (adminsite/urls.py)
    "SHOW_VIEW_ON_SITE": False,  # no model has a public page
    "DASHBOARD_CALLBACK": "adminsite.dashboard.home",  # the admin home is the dashboard
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "adminsite.sidebar.navigation",
    },
}

# --- Background tasks: django-q2, ORM broker by default (no extra service).
Q_CLUSTER = {
    "name": "arandu",
    "workers": env.int("ARANDU_Q_WORKERS", default=1),
    "timeout": env.int("ARANDU_Q_TIMEOUT", default=3600),
    "retry": env.int("ARANDU_Q_TIMEOUT", default=3600) + 60,
    "orm": "default",
    "sync": env.bool("ARANDU_Q_SYNC", default=False),
    "catch_up": False,
}
# With REDIS_URL, Redis is the broker too: any number of `qcluster` processes, on any hosts,
# share one queue and each task goes to one of them. ARANDU_Q_REDIS=false keeps the
# tasks in the database (the ORM broker) while Redis stays the cache.
if _REDIS_URL and _env_bool_default_true("ARANDU_Q_REDIS"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = _REDIS_URL

# --- Engine knobs.
ARANDU_EMBEDDER = env.str("ARANDU_EMBEDDER", default="local")  # local | openai | ollama
ARANDU_EMBEDDER_MODEL = env.str("ARANDU_EMBEDDER_MODEL", default="")
ARANDU_EMBEDDER_URL = env.str("ARANDU_EMBEDDER_URL", default="")
# The OpenAI key by default for an OpenAI embedder only: never sent to an Ollama host.
ARANDU_EMBEDDER_API_KEY_ENV = env.str(
    "ARANDU_EMBEDDER_API_KEY_ENV", default="OPENAI_API_KEY" if ARANDU_EMBEDDER == "openai" else ""
)
ARANDU_EMBEDDER_DIMENSION = env.int("ARANDU_EMBEDDER_DIMENSION", default=0)
ARANDU_VECTOR_STORE = env.str("ARANDU_VECTOR_STORE", default="local")  # local | weaviate
WEAVIATE_URL = env.str("WEAVIATE_URL", default="")
WEAVIATE_GRPC_PORT = env.int("WEAVIATE_GRPC_PORT", default=50051)
WEAVIATE_GRPC_HOST = env.str("WEAVIATE_GRPC_HOST", default="")
WEAVIATE_API_KEY_ENV = env.str("WEAVIATE_API_KEY_ENV", default="WEAVIATE_API_KEY")
WEAVIATE_TIMEOUT_S = env.float("WEAVIATE_TIMEOUT_S", default=30.0)
WEAVIATE_COLLECTION = env.str("WEAVIATE_COLLECTION", default="AranduChunk")
ARANDU_STORE_DIR = ARANDU_DATA_DIR / "store"
ARANDU_CHUNK_TOKENS = env.int("ARANDU_CHUNK_TOKENS", default=256)
ARANDU_CHUNK_OVERLAP = env.int("ARANDU_CHUNK_OVERLAP", default=32)
# Embed each chunk with its document's title and heading path before its text (the
# cited text stays the chunk's own). Off: measured no better on the labelled set
# (docs/PERFORMANCE.md §22). Changing it re-embeds every set in the background.
ARANDU_EMBED_TITLES = env.bool("ARANDU_EMBED_TITLES", default=False)
ARANDU_MAX_FILE_MB = env.float("ARANDU_MAX_FILE_MB", default=20.0)
# One document's caps and one file's parse time (a child process killed at the deadline).
ARANDU_MAX_DOC_PARAGRAPHS = env.int("ARANDU_MAX_DOC_PARAGRAPHS", default=50_000)
ARANDU_MAX_DOC_CHARS = env.int("ARANDU_MAX_DOC_CHARS", default=5_000_000)
# Records one JSON/JSONL export may hold (each becomes a document).
ARANDU_MAX_RECORDS_PER_FILE = env.int("ARANDU_MAX_RECORDS_PER_FILE", default=100_000)
ARANDU_PARSE_TIMEOUT_S = env.float("ARANDU_PARSE_TIMEOUT_S", default=60.0)
ARANDU_QUESTION_MIN_CHARS = env.int("ARANDU_QUESTION_MIN_CHARS", default=3)
ARANDU_QUESTION_MAX_CHARS = env.int("ARANDU_QUESTION_MAX_CHARS", default=1000)
# Days the question history keeps what people asked and were answered (0: never stored);
# figures (mode, cost, latency) stay, and the ledger is kept regardless.
ARANDU_QUESTION_RETENTION_DAYS = env.int("ARANDU_QUESTION_RETENTION_DAYS", default=90)
ARANDU_TOP_K = env.int("ARANDU_TOP_K", default=5)
# Hits one document may hold in the top (0: no cap), so the answer sees more documents.
ARANDU_MAX_CHUNKS_PER_DOCUMENT = env.int("ARANDU_MAX_CHUNKS_PER_DOCUMENT", default=2)
ARANDU_MIN_SIMILARITY = env.float("ARANDU_MIN_SIMILARITY", default=0.2)
ARANDU_HYBRID_ALPHA = env.float("ARANDU_HYBRID_ALPHA", default=0.5)
ARANDU_FUSION = env.str("ARANDU_FUSION", default="relative")
ARANDU_EXTRACTIVE_SENTENCES = env.int("ARANDU_EXTRACTIVE_SENTENCES", default=3)
# Sentences the extractive answerer embeds at question time when their vectors were not
# stored at ingest (the most promising ones): the quality/latency trade-off measured in
# docs/PERFORMANCE.md. Stored ones are all compared: a lookup each.
ARANDU_EXTRACTIVE_EMBED_SENTENCES = env.int("ARANDU_EXTRACTIVE_EMBED_SENTENCES", default=8)
# Answer cache: TTL when no CacheRule matches; the cosine a paraphrase needs. Unset (the
# default: None), each embedder's own, measured on the labelled pairs (zero false hits,
# most true hits, with the paraphrase checks) and looked up by its name
# (ragengine.retrieval.similarity_scale; tests/ragengine/cache/test_paraphrase.py
# recomputes them and fails if they drift); set, the operator's for every embedder.
ARANDU_CACHE_DEFAULT_TTL = env.int("ARANDU_CACHE_DEFAULT_TTL", default=86400)
_semantic_threshold = env.str("ARANDU_CACHE_SEMANTIC_THRESHOLD", default="").strip()
try:
    ARANDU_CACHE_SEMANTIC_THRESHOLD = float(_semantic_threshold) if _semantic_threshold else None
except ValueError:
    ARANDU_CACHE_SEMANTIC_THRESHOLD = float("nan")  # refused below, with the others
# JSON list of {"name", "pattern", "kind"} replacing the built-in blocked input patterns.
ARANDU_BLOCKED_PATTERNS = env.json("ARANDU_BLOCKED_PATTERNS", default=None)
# Ingestion commits to the vector store every N documents (and at the end of a run).
ARANDU_INGEST_COMMIT_EVERY = env.int("ARANDU_INGEST_COMMIT_EVERY", default=50)
# Seconds a question's model calls may take in all (retries and fallbacks included),
# counted from its budget reservation, which counts for twice that plus a minute.
ARANDU_MODEL_DEADLINE_S = env.float("ARANDU_MODEL_DEADLINE_S", default=120.0)
# Seconds a question waits when the member's own questions in flight hold the rest of
# their budget (they settle to their real, lower cost), before the hard-limit policy.
ARANDU_BUDGET_WAIT_S = env.float("ARANDU_BUDGET_WAIT_S", default=30.0)

# Evaluation runs (admin → Evaluation runs, `manage.py evaluate`).
ARANDU_EVAL_CONCURRENCY = env.int("ARANDU_EVAL_CONCURRENCY", default=4)
try:  # most each target of a run may spend (its evaluation member's budget)
    ARANDU_EVAL_BUDGET_CAP = Decimal(env.str("ARANDU_EVAL_BUDGET_CAP", default="1.00"))
except InvalidOperation:
    raise ImproperlyConfigured("ARANDU_EVAL_BUDGET_CAP must be a number, e.g. 1.50.") from None
ARANDU_EVAL_STALE_MINUTES = env.int("ARANDU_EVAL_STALE_MINUTES", default=10)

# Folder sources (admin → Folder sources) scan only folders under these: absolute paths
# separated by ":" or ","; by default the data directory's `sources/`. Empty: none.
ARANDU_SOURCE_ROOTS = [
    Path(root.strip())
    for root in re.split(
        r"[:,]", env.str("ARANDU_SOURCE_ROOTS", default=str(ARANDU_DATA_DIR / "sources"))
    )
    if root.strip()
]
_require(
    all(root.is_absolute() for root in ARANDU_SOURCE_ROOTS),
    "ARANDU_SOURCE_ROOTS must list absolute folders, separated by ':' or ','.",
)
# Document ingestion in the background: an ingestion with no progress for this long is
# queued again by the sweep, and failed with its reason after this many attempts.
ARANDU_INGEST_STALE_MINUTES = env.int("ARANDU_INGEST_STALE_MINUTES", default=30)
ARANDU_INGEST_MAX_ATTEMPTS = env.int("ARANDU_INGEST_MAX_ATTEMPTS", default=3)

_require(ARANDU_CHUNK_TOKENS >= 32, "ARANDU_CHUNK_TOKENS must be at least 32.")
_require(
    0 <= ARANDU_CHUNK_OVERLAP < ARANDU_CHUNK_TOKENS,
    "ARANDU_CHUNK_OVERLAP must be >= 0 and smaller than ARANDU_CHUNK_TOKENS.",
)
_require(ARANDU_MAX_FILE_MB > 0, "ARANDU_MAX_FILE_MB must be positive.")
_require(ARANDU_QUESTION_RETENTION_DAYS >= 0, "ARANDU_QUESTION_RETENTION_DAYS must be 0 or more.")
_require(ARANDU_MAX_DOC_PARAGRAPHS >= 1, "ARANDU_MAX_DOC_PARAGRAPHS must be at least 1.")
_require(ARANDU_MAX_DOC_CHARS >= 1, "ARANDU_MAX_DOC_CHARS must be at least 1.")
_require(ARANDU_MAX_RECORDS_PER_FILE >= 1, "ARANDU_MAX_RECORDS_PER_FILE must be at least 1.")
_require(ARANDU_PARSE_TIMEOUT_S > 0, "ARANDU_PARSE_TIMEOUT_S must be positive (seconds).")
_require(
    1 <= ARANDU_QUESTION_MIN_CHARS <= ARANDU_QUESTION_MAX_CHARS,
    "ARANDU_QUESTION_MIN_CHARS must be >= 1 and <= ARANDU_QUESTION_MAX_CHARS.",
)
_require(ARANDU_TOP_K >= 1, "ARANDU_TOP_K must be at least 1.")
_require(ARANDU_MAX_CHUNKS_PER_DOCUMENT >= 0, "ARANDU_MAX_CHUNKS_PER_DOCUMENT must be >= 0.")
_require(-1.0 <= ARANDU_MIN_SIMILARITY <= 1.0, "ARANDU_MIN_SIMILARITY must be in [-1, 1].")
_require(0.0 <= ARANDU_HYBRID_ALPHA <= 1.0, "ARANDU_HYBRID_ALPHA must be in [0, 1].")
_require(ARANDU_FUSION in {"relative", "rrf"}, "ARANDU_FUSION must be 'relative' or 'rrf'.")
_require(
    ARANDU_EMBEDDER in {"local", "openai", "ollama"},
    "ARANDU_EMBEDDER must be 'local', 'openai' or 'ollama'.",
)
_require(
    ARANDU_EMBEDDER == "local" or (ARANDU_EMBEDDER_MODEL and ARANDU_EMBEDDER_DIMENSION > 0),
    "ARANDU_EMBEDDER_MODEL and ARANDU_EMBEDDER_DIMENSION are required for remote embedders.",
)
_require(
    ARANDU_EMBEDDER != "local"
    or ARANDU_EMBEDDER_MODEL.lower()
    in {"", "all-minilm-l6-v2", "use-multilingual-v3", "e5-small", "e5-small-enpt"},
    "ARANDU_EMBEDDER_MODEL for ARANDU_EMBEDDER=local must be blank, 'all-minilm-l6-v2', "
    "'use-multilingual-v3', 'e5-small' or 'e5-small-enpt'.",
)
_require(
    ARANDU_VECTOR_STORE in {"local", "weaviate"},
    "ARANDU_VECTOR_STORE must be 'local' or 'weaviate'.",
)
_require(
    ARANDU_VECTOR_STORE != "weaviate" or bool(WEAVIATE_URL),
    "ARANDU_VECTOR_STORE=weaviate needs WEAVIATE_URL (e.g. http://weaviate:8080).",
)
_require(
    0 < WEAVIATE_GRPC_PORT < 65536 and WEAVIATE_TIMEOUT_S > 0,
    "WEAVIATE_GRPC_PORT must be a TCP port and WEAVIATE_TIMEOUT_S positive.",
)
_require(ARANDU_CACHE_DEFAULT_TTL >= 0, "ARANDU_CACHE_DEFAULT_TTL must be >= 0 (0 = never).")
_require(
    ARANDU_CACHE_SEMANTIC_THRESHOLD is None or 0.0 < ARANDU_CACHE_SEMANTIC_THRESHOLD <= 1.0,
    "ARANDU_CACHE_SEMANTIC_THRESHOLD must be blank (each embedder's own) or in (0, 1].",
)
_require(ARANDU_EXTRACTIVE_EMBED_SENTENCES >= 0, "ARANDU_EXTRACTIVE_EMBED_SENTENCES must be >= 0.")
_require(1 <= ARANDU_EVAL_CONCURRENCY <= 32, "ARANDU_EVAL_CONCURRENCY must be between 1 and 32.")
_require(
    ARANDU_EVAL_BUDGET_CAP.is_finite() and ARANDU_EVAL_BUDGET_CAP >= 0,
    "ARANDU_EVAL_BUDGET_CAP must be >= 0.",
)
_require(ARANDU_EVAL_STALE_MINUTES >= 1, "ARANDU_EVAL_STALE_MINUTES must be at least 1.")
_require(ARANDU_INGEST_STALE_MINUTES >= 1, "ARANDU_INGEST_STALE_MINUTES must be at least 1.")
_require(ARANDU_INGEST_MAX_ATTEMPTS >= 1, "ARANDU_INGEST_MAX_ATTEMPTS must be at least 1.")
_require(ARANDU_INGEST_COMMIT_EVERY >= 1, "ARANDU_INGEST_COMMIT_EVERY must be at least 1.")
_require(
    0 < ARANDU_MODEL_DEADLINE_S <= 3600, "ARANDU_MODEL_DEADLINE_S must be in (0, 3600] seconds."
)
_require(
    0 <= ARANDU_BUDGET_WAIT_S <= ARANDU_MODEL_DEADLINE_S,
    "ARANDU_BUDGET_WAIT_S must be >= 0 and at most ARANDU_MODEL_DEADLINE_S.",
)

# --- Which environment variables may be sent to a model server as its API key (endpoints
# in the admin, ARANDU_EMBEDDER_API_KEY_ENV): names matching these fnmatch patterns, and
# never one of Arandu's own secrets (ragengine/key_policy.py).
ARANDU_API_KEY_ENV_ALLOWED = env.list("ARANDU_API_KEY_ENV_ALLOWED", default=["*_API_KEY"])
_problem = allow_list_problem(ARANDU_API_KEY_ENV_ALLOWED)
_require(_problem is None, f"ARANDU_API_KEY_ENV_ALLOWED: {_problem}")
_problem = ARANDU_EMBEDDER_API_KEY_ENV and KeyEnvPolicy(
    allowed=tuple(ARANDU_API_KEY_ENV_ALLOWED), reserved_names=(WEAVIATE_API_KEY_ENV,)
).refusal(ARANDU_EMBEDDER_API_KEY_ENV)
_require(ARANDU_EMBEDDER == "local" or not _problem, f"ARANDU_EMBEDDER_API_KEY_ENV: {_problem}")

# --- Chat doors. Tokens are secrets: read from the environment only, never logged.
SLACK_BOT_TOKEN = env.str("SLACK_BOT_TOKEN", default="")
SLACK_APP_TOKEN = env.str("SLACK_APP_TOKEN", default="")  # xapp-…: Socket Mode
SLACK_SIGNING_SECRET = env.str("SLACK_SIGNING_SECRET", default="")  # HTTP Events API
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")
DISCORD_BOT_TOKEN = env.str("DISCORD_BOT_TOKEN", default="")
DISCORD_API_URL = env.str("DISCORD_API_URL", default="https://discord.com/api/v10")
# "" = ask DISCORD_API_URL where the gateway is (GET /gateway/bot) at each start
DISCORD_GATEWAY_URL = env.str("DISCORD_GATEWAY_URL", default="").strip()
ARANDU_BOT_WORKERS = env.int("ARANDU_BOT_WORKERS", default=4)
ARANDU_BOT_HISTORY_TURNS = env.int("ARANDU_BOT_HISTORY_TURNS", default=10)
ARANDU_BOT_EDIT_INTERVAL_S = env.float("ARANDU_BOT_EDIT_INTERVAL_S", default=1.0)
_require(ARANDU_BOT_WORKERS >= 1, "ARANDU_BOT_WORKERS must be at least 1.")
_require(ARANDU_BOT_HISTORY_TURNS >= 0, "ARANDU_BOT_HISTORY_TURNS must be >= 0.")
_require(ARANDU_BOT_EDIT_INTERVAL_S >= 0, "ARANDU_BOT_EDIT_INTERVAL_S must be >= 0.")
_require(
    SLACK_API_URL.startswith(("http://", "https://"))
    and DISCORD_API_URL.startswith(("http://", "https://")),
    "SLACK_API_URL and DISCORD_API_URL must be http(s) URLs.",
)
if not SLACK_API_URL.endswith("/"):
    SLACK_API_URL += "/"  # slack_sdk joins method names onto it
DISCORD_API_URL = DISCORD_API_URL.rstrip("/")
_require(
    not DISCORD_GATEWAY_URL or DISCORD_GATEWAY_URL.startswith(("ws://", "wss://")),
    "DISCORD_GATEWAY_URL must be a ws:// or wss:// URL (or unset: asked from DISCORD_API_URL).",
)

# --- REST API (/api/v1/): API tokens from the admin, per-token rates, one error body.
ARANDU_API_RATE = env.str("ARANDU_API_RATE", default="60/min")
_require(
    re.fullmatch(r"[1-9][0-9]{0,6}/(s|sec|second|m|min|minute|h|hour|d|day)", ARANDU_API_RATE)
    is not None,
    "ARANDU_API_RATE must look like 60/min (requests per s, min, hour or day).",
)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["adminsite.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["adminsite.api.permissions.HasTokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["adminsite.api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "adminsite.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,  # the Accept header chooses JSON or server-sent events
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Arandu API",
    "DESCRIPTION": "Ask the company knowledge bot, manage documents, read usage. "
    "Authenticate with `Authorization: Bearer <API token>` (admin → API tokens).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


# --- Evaluation reports: where people reach the admin (links in reports), and e-mail.
def _public_url(address: str) -> str:
    if address.startswith("unix:"):
        return "http://localhost"
    return "http://" + address.replace("0.0.0.0:", "127.0.0.1:")


ARANDU_PUBLIC_URL = env.str("ARANDU_PUBLIC_URL", default=_public_url(ARANDU_ADDRESS)).rstrip("/")
_require(
    ARANDU_PUBLIC_URL.startswith(("http://", "https://")),
    "ARANDU_PUBLIC_URL must be an http(s) URL, e.g. https://arandu.example.com.",
)
if env.str("EMAIL_URL", default=""):  # e.g. smtp+tls://user:password@smtp.example.com:587
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("ARANDU_EMAIL_FROM", default="arandu@localhost")
# Alert and report webhooks: the first wait between attempts (then doubling, up to 60 s).
ARANDU_WEBHOOK_BACKOFF_S = env.float("ARANDU_WEBHOOK_BACKOFF_S", default=1.0)
_require(ARANDU_WEBHOOK_BACKOFF_S >= 0, "ARANDU_WEBHOOK_BACKOFF_S must be 0 or more seconds.")

# Each finished evaluation run is also logged to MLflow when this is set (needs
# `pip install mlflow-skinny`), e.g. http://mlflow:5000 or sqlite:///…/mlflow.db.
MLFLOW_TRACKING_URI = env.str("MLFLOW_TRACKING_URI", default="").strip()
ARANDU_MLFLOW_EXPERIMENT = env.str("ARANDU_MLFLOW_EXPERIMENT", default="arandu-evaluation")
_require(
    not MLFLOW_TRACKING_URI or importlib.util.find_spec("mlflow") is not None,
    "MLFLOW_TRACKING_URI is set but MLflow is not installed: pip install mlflow-skinny.",
)

# --- Logging: one line per event, the request id on every line (adminsite/logging.py).
# ARANDU_LOG_FORMAT: "text" (key=value, readable; the default) or "json" (JSON lines for a
# log shipper; docker-compose's default).
LOG_LEVEL = env.str("ARANDU_LOG_LEVEL", default="INFO")
ARANDU_LOG_FORMAT = env.str("ARANDU_LOG_FORMAT", default="text").strip().lower()
_require(ARANDU_LOG_FORMAT in {"text", "json"}, "ARANDU_LOG_FORMAT must be 'text' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "adminsite.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"()": "adminsite.logging.KeyValueFormatter"},
        "json": {"()": "adminsite.logging.JsonLinesFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": ARANDU_LOG_FORMAT,
            "filters": ["request_id"],
            # stderr: command output (answers, progress) on stdout never mixes with log lines
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"level": "WARNING"}, "bm25s": {"level": "WARNING"}},
}

# --- Metrics: /metrics for Prometheus (adminsite/metrics.py). Every process (gunicorn
# workers, the django-q2 worker, the bots) writes its figures to files under
# ARANDU_METRICS_DIR (prometheus-client's multiprocess mode, one folder per host) and a
# scrape adds them up. Allowed to a bearer token (ARANDU_METRICS_TOKEN) or to clients
# from ARANDU_METRICS_ALLOW (CIDRs; default loopback only, "" for token only).
ARANDU_METRICS_DIR = Path(env.str("ARANDU_METRICS_DIR", default=str(ARANDU_DATA_DIR / "metrics")))
ARANDU_METRICS_TOKEN = env.str("ARANDU_METRICS_TOKEN", default="")
ARANDU_METRICS_ALLOW = env.list("ARANDU_METRICS_ALLOW", default=["127.0.0.0/8", "::1/128"])
try:
    ARANDU_METRICS_NETWORKS = tuple(
        ipaddress.ip_network(cidr.strip(), strict=False) for cidr in ARANDU_METRICS_ALLOW if cidr
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"ARANDU_METRICS_ALLOW: {exc} (expected CIDRs).") from None
_require(
    not ARANDU_METRICS_TOKEN or len(ARANDU_METRICS_TOKEN) >= 16,
    "ARANDU_METRICS_TOKEN must be at least 16 characters (or unset).",
)
# prometheus-client reads this before anything imports it (django-q2 does at app
# loading): set here, the first code every process runs, and always from
# ARANDU_METRICS_DIR (the folder /metrics reads), never inherited from a parent process.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_process_dir(ARANDU_METRICS_DIR, create=True))
# Readiness (/readyz) fails when the django-q2 worker's heartbeat (a schedule every
# minute) is older than this many seconds.
ARANDU_WORKER_STALE_S = env.int("ARANDU_WORKER_STALE_S", default=180)
_require(ARANDU_WORKER_STALE_S >= 90, "ARANDU_WORKER_STALE_S must be at least 90 seconds.")

# --- Errors: Sentry only when a DSN is given (adminsite/sentry.py). The release is
# ARANDU_RELEASE, else the git commit, else the package version; ARANDU_ENVIRONMENT names
# the deployment. Questions and answers are scrubbed from events unless
# ARANDU_SENTRY_SEND_QUESTIONS=true.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
ARANDU_RELEASE = env.str("ARANDU_RELEASE", default="").strip()
ARANDU_ENVIRONMENT = env.str("ARANDU_ENVIRONMENT", default="production").strip()
ARANDU_SENTRY_SEND_QUESTIONS = _env_bool("ARANDU_SENTRY_SEND_QUESTIONS")
if SENTRY_DSN:
    sentry_start(
        dsn=SENTRY_DSN,
        release=ARANDU_RELEASE or release_name(base_dir=BASE_DIR),
        environment=ARANDU_ENVIRONMENT,
        send_questions=ARANDU_SENTRY_SEND_QUESTIONS,
    )
