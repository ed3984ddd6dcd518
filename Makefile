# make run   : set up, then train on the diabetes data, inspect and score it
# make test  : set up with the test extras, then run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m enet.core.warmup
	touch $(STAMP)

run: $(STAMP)
	mkdir -p run
	$(BIN)/python examples/write_diabetes_csv.py run/diabetes.csv
	$(BIN)/enet train run/diabetes.csv --target y --categorical sex -o run/model
	$(BIN)/enet inspect run/model
	$(BIN)/enet predict run/model run/diabetes.csv -o run/predictions.csv --keep y
	head -n 6 run/predictions.csv

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/cv_vs_sklearn.py

clean:
	rm -rf $(VENV) run .pytest_cache
