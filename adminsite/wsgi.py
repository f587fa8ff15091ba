"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
# One BLAS thread: a search is one matrix-vector product, and a second BLAS pool fights
# the embedder's threads for the two cores (measured in docs/PERFORMANCE.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
application = get_wsgi_application()
