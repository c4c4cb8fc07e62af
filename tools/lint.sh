#!/usr/bin/env bash
# The checks of .pre-commit-config.yaml without git hooks (tools and versions: requirements/tests.txt,
# settings: setup.cfg). Exit status 0 only when every check passes.
#   bash tools/lint.sh            # check: flake8, isort --check, yapf --diff, whitespace, end of file
#   bash tools/lint.sh --fix      # rewrite in place with isort, yapf and the whitespace fixers, then check
#   bash tools/lint.sh --fix PATH...   # the same on some paths only
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-$(if [[ -n "${VIRTUAL_ENV:-}" ]]; then echo "$VIRTUAL_ENV/bin/python"; elif [[ -x .venv/bin/python ]]; then echo .venv/bin/python; else echo python3; fi)}"
BIN="$(dirname "$PY")"
FIX=0
if [[ "${1:-}" == "--fix" ]]; then FIX=1; shift; fi
PATHS=("$@")
[[ ${#PATHS[@]} -eq 0 ]] && PATHS=(mmspatial tools benchmarks tests configs)

for tool in flake8 isort yapf trailing-whitespace-fixer end-of-file-fixer; do
    [[ -x "$BIN/$tool" ]] || command -v "$tool" >/dev/null || {
        echo "lint: $tool not found; install the pins of requirements/tests.txt (pip install -r requirements/tests.txt)" >&2
        exit 2; }
done
run() { if [[ -x "$BIN/$1" ]]; then "$BIN/$@"; else "$@"; fi; }

# Text files of the paths, tracked or new (not ignored), for the whitespace checks.
mapfile -t TEXT < <(git ls-files -co --exclude-standard -- "${PATHS[@]}" | while read -r f; do
    [[ -f "$f" ]] && grep -Iq . "$f" 2>/dev/null && echo "$f"; done)

if [[ $FIX -eq 1 ]]; then
    run isort "${PATHS[@]}"
    run yapf -i -r -p -e '*/.mim/*' "${PATHS[@]}"
    [[ ${#TEXT[@]} -gt 0 ]] && { run trailing-whitespace-fixer "${TEXT[@]}"; run end-of-file-fixer "${TEXT[@]}"; } >/dev/null
fi

status=0
step() { local name="$1"; shift; echo "== $name"; "$@" || { status=1; echo "-- $name: FAILED"; }; }
step flake8 run flake8 "${PATHS[@]}"
step isort run isort --check-only --diff "${PATHS[@]}"
yapf_check() { local out; out="$(run yapf --diff -r -p -e '*/.mim/*' "${PATHS[@]}")"; [[ -z "$out" ]] && return 0
    echo "$out"; echo "yapf would reformat $(grep -c '^+++' <<<"$out") file(s): bash tools/lint.sh --fix"; return 1; }
step yapf yapf_check
whitespace_check() { [[ ${#TEXT[@]} -eq 0 ]] && return 0; ! grep -nE '[[:blank:]]+$' "${TEXT[@]}"; }
step 'trailing whitespace' whitespace_check
eof_check() { local bad=0 f tail2; for f in "${TEXT[@]}"; do
        [[ -s "$f" ]] || continue
        tail2="$(tail -c2 "$f" | od -An -tx1 | tr -d ' \n')"
        if [[ "$tail2" != *0a ]]; then echo "$f: no newline at end of file"; bad=1
        elif [[ "$tail2" == 0a0a ]]; then echo "$f: blank line(s) at end of file"; bad=1; fi
    done; return $bad; }
step 'end of file' eof_check
[[ $status -eq 0 ]] && echo "lint: all checks passed" || echo "lint: some checks failed (see above)"
exit $status
