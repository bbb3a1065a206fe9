# The two commands a new user needs: `make run` and `make test`. Everything else is set-up.
SHELL := /bin/bash
PY311 ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3.11 || command -v python3)
PY310 ?= $(shell command -v python3.10 || echo "$$(pyenv root 2>/dev/null)/versions/3.10.13/bin/python3.10")
VENV := .venv
RASA_VENV := .venv-rasa
PIP_QUIET := --quiet --disable-pip-version-check
export PYTHONUNBUFFERED := 1

.PHONY: setup run test train nlu-eval lint bench clean

setup: $(VENV)/.installed $(RASA_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "==> [setup 1/2] app environment ($(PY311)) -> $(VENV)"
	@test -x "$(PY311)" || { echo "Python 3.11+ not found"; exit 1; }
	@$(PY311) -m venv $(VENV)
	@$(VENV)/bin/pip install $(PIP_QUIET) --upgrade pip 2>&1 | grep -v "is ignored" || true
	@$(VENV)/bin/pip install $(PIP_QUIET) -r requirements-dev.txt 2>&1 | grep -v "is ignored"; test $${PIPESTATUS[0]} -eq 0
	@touch $@

$(RASA_VENV)/.installed: bot/requirements.txt
	@echo "==> [setup 2/2] Rasa environment ($(PY310)) -> $(RASA_VENV) (first time: ~2 min, 2.7 GB)"
	@test -x "$(PY310)" || { echo "Python 3.10 not found (set PY310=/path/to/python3.10)"; exit 1; }
	@$(PY310) -m venv $(RASA_VENV)
	@$(RASA_VENV)/bin/pip install $(PIP_QUIET) --upgrade pip setuptools wheel 2>&1 | grep -v "is ignored" || true
	@$(RASA_VENV)/bin/pip install $(PIP_QUIET) -r bot/requirements.txt 2>&1 | grep -v "is ignored"; test $${PIPESTATUS[0]} -eq 0
	@touch $@

train: setup
	@$(VENV)/bin/python scripts/train.py

run: setup train
	@$(VENV)/bin/python scripts/run.py

test: setup train
	@$(VENV)/bin/python -m pytest -q -p no:cacheprovider

nlu-eval: setup train
	@$(VENV)/bin/python scripts/nlu_eval.py --cross-validation

lint: setup
	@$(VENV)/bin/ruff check .

bench: setup train
	@for f in bench/bench_*.py; do echo "==> $$f"; $(VENV)/bin/python $$f || exit 1; done

clean:
	rm -rf build models var reports
