# Tsunagu. `make run` serves the demo at http://localhost:8000; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM := /usr/bin/chromium
export TEST_DATABASE_URL

.PHONY: run test test-sqlite test-postgres install install-test chromium dovecot wrk migrate demo messages bench admin clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Chromium prints the yearly report to PDF and runs the browser tests; the CJK fonts are for both.
chromium:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium (report PDFs, browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# The desk's mailbox tests read a real IMAP server: Debian's dovecot, started by the tests with a throwaway
# configuration (tests/imap_server.py); only the package is needed, its system service is never used.
dovecot:
	@test -x /usr/sbin/dovecot || { echo "installing Debian's dovecot-imapd (the desk's mailbox tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }

# bench/workers.py sends its load with wrk: a client in C leaves the second core to the second worker.
wrk:
	@test -x /usr/bin/wrk || { echo "installing Debian's wrk (bench/workers.py's load client)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

migrate: install
	$(VENV)/bin/piccolo migrations forwards all

demo: migrate
	$(PY) -m app demo

# BASE_URL follows PORT unless given: passkeys are bound to the exact origin the browser sees.
run: demo
	@$(MAKE) -s chromium || echo "chromium could not be installed: the yearly report's PDF download will say how to print it instead"
	BASE_URL=$${BASE_URL:-http://localhost:$(PORT)} $(PY) -m app serve --host $(HOST) --port $(PORT)

# Both print or serve links: BASE_URL follows PORT unless given, the same rule for each.
admin: migrate
	BASE_URL=$${BASE_URL:-http://localhost:$(PORT)} $(PY) -m app admin

# SQLite always (browser tests included); PostgreSQL too when TEST_DATABASE_URL is given. TEST_WORKERS test
# processes share the service and route tests (pytest-xdist), each with a database of its own (tests/conftest.py).
# The browser tests (SQLite only) run meanwhile in one process of their own: they wait on Chromium, a live server
# and the clock more than they use a core, so beside the others they cost the run little time. Their output is
# printed when they end; the run fails if any part failed, and stopping it stops them too.
TEST_WORKERS ?= 2
# Test processes keep the bytecode they compile (in __pycache__, which git ignores). Where PYTHONDONTWRITEBYTECODE is
# set, as on this project's CI machines, each of a run's processes compiled the app and rewrote every test module for
# pytest's assertions afresh: collecting the tests took 10.3 s of CPU a process instead of 3.8 s.
test: export PYTHONDONTWRITEBYTECODE :=
test: install-test chromium dovecot
	$(VENV)/bin/ruff check app db tests bench
	$(VENV)/bin/lint-imports
	@log=$$(mktemp); status=0; \
	$(PY) -m pytest -q -n 1 -m browser -p no:cacheprovider >$$log 2>&1 & browser=$$!; \
	trap 'kill $$browser 2>/dev/null; rm -f $$log' EXIT; trap 'exit 130' INT TERM; \
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not browser" || status=$$?; \
	if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$TEST_DATABASE_URL), browser tests excluded"; \
		TSUNAGU_TEST_DB=postgres $(PY) -m pytest -q -n $(TEST_WORKERS) -m "not browser" || status=$$?; \
	fi; \
	echo "== browser tests (SQLite), run alongside"; \
	wait $$browser || status=$$?; cat $$log; exit $$status

messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o app/locale/messages.pot --no-location --sort-output --project=tsunagu .
	$(VENV)/bin/pybabel update -i app/locale/messages.pot -d app/locale --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d app/locale --statistics

bench: install-test wrk
	$(PY) bench/pages.py
	$(PY) bench/redeem.py
	$(PY) bench/workers.py
	$(PY) bench/push_fanout.py

clean:
	rm -rf $(VENV) var/ .pytest_cache
