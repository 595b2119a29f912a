#!/usr/bin/env bash
# pystats: the Python reference of the experiment statistics tests
# (analytics/internal/stats/testdata/reference.py). Creates a virtualenv with
# pinned SciPy and statsmodels under $SY_SERVICES_DIR/pystats (default
# <repo>/.services/pystats, gitignored) once, and prints its interpreter, which
# ops/test.sh exports as SY_PYTHON. Idempotent; needs python3 and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SY_SERVICES_DIR:-$PWD/.services}/pystats"
py="$dir/bin/python3"
if ! "$py" -c 'import scipy, statsmodels' 2>/dev/null; then
	python3 -m venv "$dir" >&2
	"$py" -m pip install -q 'scipy==1.17.1' 'statsmodels==0.15.0' >&2
fi
echo "$py"
