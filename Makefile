# StateJournal — quick start: `make demo`, then `make test`.
SWIFT      ?= swift
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN         = $(shell $(SWIFT) build --show-bin-path)/statejournal

.PHONY: all deps build release demo test mcp-test bench torture fuzz sanitize clean mutants api man install uninstall python-deps python-test \
	pg-deps pg-start pg-stop bench-postgres

all: build

# Installs what a fresh Debian/Ubuntu machine lacks: libzstd (headers and
# pkg-config file), the zstd command-line tool, and script(1) (bsdutils; the
# CLI tests run `log` under a pseudo-terminal with it), and python3 (the API
# check; a CLI test runs the earlier tool's parser).
deps:
	@if ! pkg-config --exists libzstd 2>/dev/null || ! command -v zstd >/dev/null 2>&1; then \
		echo "make: installing libzstd-dev pkg-config zstd"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libzstd-dev pkg-config zstd; \
	fi
	@if ! [ -x /usr/bin/script ]; then \
		echo "make: installing bsdutils (script)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bsdutils; \
	fi
	@if ! command -v python3 >/dev/null 2>&1; then \
		echo "make: installing python3 (the API check and the earlier tool's parser in a CLI test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3; \
	fi

build: deps
	$(SWIFT) build

demo: build
	STATEJOURNAL_BIN="$(BIN)" Tools/demo/demo.sh

# The test suite's closing line comes last, so CI reads it. Before it: every
# known finding's reproduction (`torture repro all` exits non-zero while any
# bug is back, or when a repro's fault did not fire), the lost-write mode's
# self-test (a layer that skips file or directory syncs must make it fail),
# the small torture run and the Python package's tests (with `make install`
# into .build/install-test, where the README's "Using it" lines run).
TORTURE_BIN = $$($(SWIFT) build --show-bin-path)/torture
test: deps pg-start
	$(SWIFT) build --build-tests
	Tools/api/public-api.sh
	"$(TORTURE_BIN)" repro all
	@for mode in file-sync dir-sync; do \
		echo "make: torture --sabotage $$mode must fail (it skips the library's $$mode)"; \
		"$(TORTURE_BIN)" --small --phases lost --crashes 40 --sabotage $$mode > .build/sabotage-$$mode.log 2>&1; \
		status=$$?; \
		if [ $$status -ne 1 ] || ! grep -q "totals lost=[1-9]" .build/sabotage-$$mode.log; then \
			echo "make: FAILED — torture --sabotage $$mode exited $$status without reporting lost events: the lost-write mode cannot see skipped syncs (.build/sabotage-$$mode.log)"; exit 1; \
		fi; \
		echo "make: ok — torture --sabotage $$mode lost acknowledged events and failed, as it must"; \
	done
	"$(TORTURE_BIN)" --small
	Tools/fuzz/fuzz.sh all $(FUZZ_TEST_SECONDS)
	$(MAKE) python-test
	$(MAKE) --no-print-directory mcp-test
	@# The PostgreSQL tests (Tests/PostgresStoreTests) run against pg-start's
	@# server; without it they would be skipped, so here that is a failure.
	PGPASSWORD="$$(cat $(PG_DIR)/password)" PG_PORT=$(PG_PORT) STATEJOURNAL_TEST_PG_DIR="$(PG_DIR)" STATEJOURNAL_TEST_PG_REQUIRED=1 $(SWIFT) test
	@# Tests run as root here: a test that replaced /dev/null with a file
	@# (FileManager.createFile on it did) breaks the machine, not just itself.
	@test -c /dev/null || { echo "make: FAILED — /dev/null is no longer a character device: a test replaced it"; exit 1; }

# A throwaway PostgreSQL server for the PostgreSQL journal store's tests and
# bench (issue 15): Debian's `postgresql` package (installed when missing),
# a cluster made by initdb in $(PG_DIR), run as the `postgres` user (the
# directory is chown'ed to it when make runs as root), listening on a Unix
# socket in $(PG_DIR) and on 127.0.0.1:$(PG_PORT). Local socket connections
# are trusted; TCP ones need a password (scram-sha-256): the role
# `statejournal` has the password in $(PG_DIR)/password, which the tests pass
# through PGPASSWORD, never in a URL. `make pg-stop` stops it; `rm -rf
# $(PG_DIR)` forgets it. The URL the tests use is printed by pg-start.
PG_DIR   ?= $(CURDIR)/.build/pg
PG_PORT  ?= 54329
PG_BIN    = $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_AS     = $$([ "$$(id -u)" = 0 ] && echo "runuser -u postgres --")
PG_URL    = postgres://statejournal@127.0.0.1:$(PG_PORT)/statejournal
pg-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "make: installing postgresql"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

pg-start: pg-deps
	@set -e; mkdir -p "$(PG_DIR)"; \
	if [ "$$(id -u)" = 0 ]; then chown postgres "$(PG_DIR)"; fi; \
	if ! [ -f "$(PG_DIR)/data/PG_VERSION" ]; then \
		echo "make: initdb $(PG_DIR)/data"; \
		(umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$(PG_DIR)/password.tmp"); \
		$(PG_AS) "$(PG_BIN)/initdb" -D "$(PG_DIR)/data" -U postgres --encoding=UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$(PG_DIR)/initdb.log" 2>&1 \
			|| { cat "$(PG_DIR)/initdb.log"; exit 1; }; \
	fi; \
	if ! $(PG_AS) "$(PG_BIN)/pg_ctl" -D "$(PG_DIR)/data" status >/dev/null 2>&1; then \
		$(PG_AS) "$(PG_BIN)/pg_ctl" -D "$(PG_DIR)/data" -l "$(PG_DIR)/server.log" -w -t 60 \
			-o "-p $(PG_PORT) -k $(PG_DIR) -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" start >/dev/null \
			|| { tail -20 "$(PG_DIR)/server.log"; exit 1; }; \
	fi; \
	if [ -f "$(PG_DIR)/password.tmp" ]; then \
		pw=$$(cat "$(PG_DIR)/password.tmp"); \
		$(PG_AS) "$(PG_BIN)/psql" -q -h "$(PG_DIR)" -p $(PG_PORT) -U postgres -d postgres -v ON_ERROR_STOP=1 \
			-c "CREATE ROLE statejournal LOGIN PASSWORD '$$pw'" -c "CREATE DATABASE statejournal OWNER statejournal" >/dev/null; \
		mv "$(PG_DIR)/password.tmp" "$(PG_DIR)/password"; \
	fi; \
	echo "make: PostgreSQL on $(PG_DIR) (socket) and 127.0.0.1:$(PG_PORT); PGPASSWORD=\$$(cat $(PG_DIR)/password) statejournal --store '$(PG_URL)?workflow=NAME' …"

pg-stop:
	@if [ -f "$(PG_DIR)/data/PG_VERSION" ]; then \
		$(PG_AS) "$(PG_BIN)/pg_ctl" -D "$(PG_DIR)/data" -w -m fast stop >/dev/null 2>&1 || true; \
		echo "make: PostgreSQL in $(PG_DIR) stopped"; \
	fi

# `statejournal mcp` driven by the official Python MCP SDK (Tests/mcp): the
# `mcp` package from PyPI, pinned, with pytest, in a virtual environment
# under .build/ made when missing (python3-venv installed with apt-get when
# the machine's python3 cannot make one).
MCP_VENV = .build/mcp-venv
MCP_PYTHON_PACKAGES = mcp==2.3.0 pytest==9.2.0
$(MCP_VENV)/.installed:
	@command -v python3 >/dev/null 2>&1 || { echo "make: the MCP tests need python3"; exit 1; }
	@rm -rf $(MCP_VENV)
	@if ! python3 -m venv $(MCP_VENV) >/dev/null 2>&1; then \
		echo "make: installing python3-venv"; rm -rf $(MCP_VENV); \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(MCP_VENV); \
	fi
	$(MCP_VENV)/bin/pip install -q --disable-pip-version-check $(MCP_PYTHON_PACKAGES)
	@echo "$(MCP_PYTHON_PACKAGES)" > $@

mcp-test: $(MCP_VENV)/.installed
	$(SWIFT) build --product statejournal
	$(SWIFT) build --product statejournal-mcp
	STATEJOURNAL_BIN="$(BIN)" $(MCP_VENV)/bin/python -m pytest -q -p no:cacheprovider Tests/mcp

# The command line as it is meant to be installed: optimised, with the Swift
# runtime linked in statically (about 3.5 ms less start-up per command), and
# on Linux a fully static executable (Package.swift: `-static-executable` for
# the statejournal target in release builds; no dynamic loader, about 2 M
# instructions less per command; it needs libzstd.a, which libzstd-dev has).
# Also statejournal-mcp, the MCP server `statejournal mcp` starts (installed
# beside it): its static Foundation needs libcurl's development files,
# installed with apt-get when missing. And statejournal-pg, the same command
# line with the PostgreSQL store linked in (what `statejournal --store
# postgres://…` runs; also static Foundation). RELEASE_PRODUCTS=statejournal
# leaves both out (python-test does: the binding needs only the command line).
RELEASE_FLAGS = -c release --static-swift-stdlib
RELEASE_PRODUCTS ?= statejournal statejournal-mcp statejournal-pg
release: deps
	@if echo "$(RELEASE_PRODUCTS)" | grep -q 'statejournal-mcp\|statejournal-pg' && ! pkg-config --exists libcurl 2>/dev/null; then \
		echo "make: installing libcurl4-openssl-dev (statejournal-mcp and statejournal-pg link Foundation statically)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libcurl4-openssl-dev; \
	fi
	@for product in $(RELEASE_PRODUCTS); do \
		echo "$(SWIFT) build $(RELEASE_FLAGS) --product $$product"; \
		$(SWIFT) build $(RELEASE_FLAGS) --product $$product || exit 1; \
	done
	@echo "built $(RELEASE_PRODUCTS) in $$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"

# The man page, by swift-argument-parser's generate-manual plugin: it builds
# the package (in debug, so that it never relinks the release binary without
# --static-swift-stdlib) and runs `statejournal --experimental-dump-help`.
MAN_PAGE = .build/plugins/GenerateManual/outputs/statejournal/statejournal.1
man: deps
	$(SWIFT) package plugin generate-manual --configuration debug

# `make install` puts the release build on the PATH: $(PREFIX)/bin/statejournal,
# the man page and bash, zsh and fish completions (generated by the installed
# binary: swift-argument-parser's scripts). PREFIX defaults to /usr/local;
# DESTDIR stages the files for a package. `make uninstall` removes them.
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR        = $(DESTDIR)$(PREFIX)/bin
MANDIR        = $(DESTDIR)$(PREFIX)/share/man/man1
BASH_COMPDIR  = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSH_COMPDIR   = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISH_COMPDIR  = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
INSTALLED     = $(BINDIR)/statejournal $(BINDIR)/statejournal-mcp $(BINDIR)/statejournal-pg $(MANDIR)/statejournal.1 $(BASH_COMPDIR)/statejournal \
                $(ZSH_COMPDIR)/_statejournal $(FISH_COMPDIR)/statejournal.fish
install: release man
	install -d "$(BINDIR)" "$(MANDIR)" "$(BASH_COMPDIR)" "$(ZSH_COMPDIR)" "$(FISH_COMPDIR)"
	@for product in $(RELEASE_PRODUCTS); do \
		echo "install -m 755 $$product $(BINDIR)/$$product"; \
		install -m 755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/$$product" "$(BINDIR)/$$product" || exit 1; \
	done
	install -m 644 "$(MAN_PAGE)" "$(MANDIR)/statejournal.1"
	"$(BINDIR)/statejournal" completion bash > "$(BASH_COMPDIR)/statejournal"
	"$(BINDIR)/statejournal" completion zsh > "$(ZSH_COMPDIR)/_statejournal"
	"$(BINDIR)/statejournal" completion fish > "$(FISH_COMPDIR)/statejournal.fish"
	@echo "installed $(BINDIR)/statejournal ($$("$(BINDIR)/statejournal" --version)), its man page and completions"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "make: note: $(PREFIX)/bin is not on your PATH";; esac

uninstall:
	rm -f $(INSTALLED)
	@echo "removed statejournal from $(DESTDIR)$(PREFIX)"

# The Python package (Bindings/python, the earlier tool's StateManager over
# the command line): its tests run with pytest from a virtual environment
# under .build/, made here when missing (pip fetches pytest from PyPI). They
# use the debug build (STATEJOURNAL_BIN) and, for the README's "Using it"
# lines, `make install` into PYTHON_TEST_PREFIX.
PYTHON            ?= python3
PYTHON_VENV        = .build/python-venv
PYTHON_TEST_PREFIX = $(CURDIR)/.build/install-test
python-deps:
	@if ! [ -x $(PYTHON_VENV)/bin/pytest ]; then \
		echo "make: installing pytest into $(PYTHON_VENV)"; \
		$(PYTHON) -m venv $(PYTHON_VENV) && $(PYTHON_VENV)/bin/pip install -q pytest; \
	fi

python-test: build python-deps
	$(MAKE) install PREFIX="$(PYTHON_TEST_PREFIX)" RELEASE_PRODUCTS=statejournal
	STATEJOURNAL_BIN="$(BIN)" STATEJOURNAL_TEST_PREFIX="$(PYTHON_TEST_PREFIX)" \
		$(PYTHON_VENV)/bin/python -m pytest -q Bindings/python/tests

clean:
	rm -rf .build

# Fuzz targets (Tools/fuzz, issue 7): libFuzzer with ASan over the STATE.md
# parser and validator, the record decoder, the segment reader (raw and zstd
# bytes), the snapshot decoder and the JSON of `init --plan` and `update
# --from`, built in .build-fuzz. `make fuzz` runs each for FUZZ_SECONDS, one
# after another; `make test` runs each for FUZZ_TEST_SECONDS. A crash, leak,
# hang or broken invariant fails the run; the input lands in
# .build-fuzz/artifacts/<target>/. See Docs/FUZZING.md.
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 20
fuzz: deps
	Tools/fuzz/fuzz.sh all $(FUZZ_SECONDS)

# The test suite under ThreadSanitizer, then under AddressSanitizer (issue 7),
# each in its own build directory; any report fails the run (the sanitizers
# exit non-zero at the end when they reported anything). Leaks of the test
# harness (Foundation, XCTest) are suppressed in Tools/sanitize/lsan.supp.
# SANITIZE_FILTER narrows both to some tests (e.g. 'GroupCommit|Concurrency').
SANITIZE_FILTER ?=
sanitize: deps
	$(SWIFT) build --build-tests --scratch-path .build-tsan --sanitize=thread
	$(SWIFT) test --skip-build --scratch-path .build-tsan --sanitize=thread \
		$(if $(SANITIZE_FILTER),--filter '$(SANITIZE_FILTER)')
	$(SWIFT) build --build-tests --scratch-path .build-asan --sanitize=address
	LSAN_OPTIONS="suppressions=$(CURDIR)/Tools/sanitize/lsan.supp $(LSAN_OPTIONS)" \
		$(SWIFT) test --skip-build --scratch-path .build-asan --sanitize=address \
		$(if $(SANITIZE_FILTER),--filter '$(SANITIZE_FILTER)')

# The torture harness (Tools/torture, issues 5, 10, 18): ≥1,000 SIGKILLs across
# ≥8 writers (some placed by strace or phase markers between the append and
# the STATE.md rename), lost-write mode, failing syscalls, 16 threads × 1,000
# events, and the durability findings' phases (kill/retry/power loss, readers
# during failing syncs, lock file removed, older journal copies, fsync errors
# consumed). Exits non-zero if any acknowledged event is lost or duplicated,
# any read is torn, STATE.md shows more than the journal, a coverage minimum
# is missed, or any other property is violated. `make test` runs its small
# configuration (`torture --small`) and `torture repro all`.
TORTURE_FLAGS ?= --long
torture: deps
	$(SWIFT) build -c release
	"$$($(SWIFT) build -c release --show-bin-path)/torture" $(TORTURE_FLAGS)

# Benchmarks against peers (Tools/bench, issue 6): raw fdatasync, SQLite, the
# earlier tool's approach and the earlier tool itself (python3), one writer,
# 16 threads, 4 and 8 processes, the CLI, replay/open/size of 1M events of
# history, STATE.md for 10k tasks — one run, one directory, one table with
# ratios, CPU time and system calls per write (issue 12; counted with
# strace -f -c, the same way for every peer) and targets. Docs/PERFORMANCE.md
# holds a run's table. Needs libsqlite3-dev, python3 and strace (installed
# here when missing). BENCH_FLAGS go to the bench (e.g. `--rounds 1
# --events 100000` for a quick look, `--no-syscalls` to skip the counting,
# `--keep --dir DIR` to inspect the files); BENCH_BUILD_FLAGS to swift build
# (e.g. `--scratch-path .build-bench`).
BENCH_FLAGS ?=
BENCH_BUILD_FLAGS ?=
bench: deps
	@if ! pkg-config --exists sqlite3 2>/dev/null; then \
		echo "make: installing libsqlite3-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libsqlite3-dev; \
	fi
	@if ! command -v strace >/dev/null 2>&1; then \
		echo "make: installing strace (system calls per write)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq strace; \
	fi
	@command -v python3 >/dev/null 2>&1 || { echo "make: bench needs python3 (the earlier tool's runtime)"; exit 1; }
	$(SWIFT) build $(RELEASE_FLAGS) $(BENCH_BUILD_FLAGS) --product statejournal
	$(SWIFT) build $(RELEASE_FLAGS) $(BENCH_BUILD_FLAGS) --product bench
	"$$($(SWIFT) build $(RELEASE_FLAGS) $(BENCH_BUILD_FLAGS) --show-bin-path)/bench" $(BENCH_FLAGS)

# The PostgreSQL store's rows of the bench (issue 15): one writer, 16
# threads and 8 processes through the store, beside a plain INSERT per
# transaction, on pg-start's server in the same run.
bench-postgres: deps pg-start
	$(SWIFT) build $(RELEASE_FLAGS) $(BENCH_BUILD_FLAGS) --product bench
	PGPASSWORD="$$(cat $(PG_DIR)/password)" "$$($(SWIFT) build $(RELEASE_FLAGS) $(BENCH_BUILD_FLAGS) --show-bin-path)/bench" \
		--only postgres --pg "$(PG_URL)" $(BENCH_FLAGS)

# Mutation check (Tools/mutants, issue 18): applies each deliberate bug in
# the script's table to a copy of the repository (MUTANTS_WORK, default
# .build-mutants, with its own .build), runs the tests that must
# catch it, and prints a table; exits non-zero if any mutant survived. Slow
# (a build per mutant): not part of `make test`. MUTANTS=id… runs only some.
MUTANTS ?=
mutants: deps
	Tools/mutants/mutants.sh $(MUTANTS)

# The public API: how many declarations `import StateJournal` shows, and a
# failure if any has no documentation comment (Tools/api/public-api.sh).
api:
	Tools/api/public-api.sh --list

