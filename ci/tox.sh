#!/usr/bin/env bash
# Any CI: make a virtual environment with tox and run the given tox arguments in it.
#   ci/tox.sh -m ci          the project's tests, one check after another (.ci/run and the
#                            README run them with `tox run-parallel -m ci`)
#   ci/tox.sh -e certify     certify the reference transport
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
"$python" -m venv .venv
if [ -x .venv/bin/python ]; then venv_python=.venv/bin/python; else venv_python=.venv/Scripts/python.exe; fi
"$venv_python" -m pip install -q 'tox>=4.11'
"$venv_python" -m tox run "$@"
