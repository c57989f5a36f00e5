# Sourced by bin/up and bin/test: make sure .venv exists and holds exactly what pyproject.toml pins.
PYTHON_BIN="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PYTHON_BIN …"
  "$PYTHON_BIN" -m venv .venv
fi
stamp=.venv/.switchboard-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing dependencies pinned in pyproject.toml …"
  .venv/bin/python -m pip install -qq --upgrade pip
  .venv/bin/python -m pip install -qq -e ".[dev]"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
