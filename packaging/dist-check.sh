#!/usr/bin/env bash
# What CI proves of the shipped program (after `make installer`): the frozen build passes its self-test,
# writes every page from the demo clinic offscreen, checks a database from its console program, the
# installer was compiled against it, and `pip install .` into a fresh venv gives a working `meike`.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export QT_QPA_PLATFORM=offscreen MEIKE_DATA_DIR="$work/data" MEIKE_CONFIG_DIR="$work/config"
unset MEIKE_DATABASE_URL

echo "== dist/Meike/Meike --selftest"
dist/Meike/Meike --selftest

echo "== dist/Meike/Meike --demo --screenshot"
dist/Meike/Meike --demo --screenshot "$work/shots"
expected="account_manager.png login.png page_cashier.png page_customers.png page_dashboard.png page_phone.png page_registration.png page_settings.png"
written="$(cd "$work/shots" && ls -- *.png | sort | tr '\n' ' ' | sed 's/ $//')"
[ "$written" = "$expected" ] || { echo "dist-check: pages written: $written; expected: $expected" >&2; exit 1; }

echo "== dist/Meike/meike-check --database (the demo clinic)"
dist/Meike/meike-check --database "sqlite:///$work/data/meike-demo.sqlite3" | tail -3

version="$(python3 packaging/nsis_files.py --version)"
echo "== dist/Meike-Setup-$version.exe"
[ -s "dist/Meike-Setup-$version.exe" ] || { echo "dist-check: the installer was not written" >&2; exit 1; }
ls -l "dist/Meike-Setup-$version.exe"

echo "== pip install . into a fresh venv, then meike --check"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet -c packaging/requirements-build.txt .
(cd "$work" && "$work/venv/bin/meike" --check --database "sqlite:///$work/data/meike-demo.sqlite3" | tail -3)
(cd "$work" && "$work/venv/bin/meike-check" --database "sqlite:///$work/data/meike-demo.sqlite3" | tail -1)
(cd "$work" && "$work/venv/bin/python" -c "import meike.migrations, ui.resources; print('meike', __import__('meike').__version__, 'installed with its migrations and icon')")
echo "dist-check: all passed"
