# Sourced by scripts/demo and scripts/test: make .venv and install the project into it.
# Re-installs only when pyproject.toml changed since the last install.
# Usage: ensure_venv [extras]   e.g. ensure_venv dev
ensure_venv() {
  local extras="${1:-}" spec="." python stamp
  [ -n "$extras" ] && spec=".[$extras]"
  python="$(command -v python3.11 || command -v python3)"
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $python" >&2
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-${extras:-base}"
  if [ ! -f "$stamp" ]; then
    echo "installing mailseg$( [ -n "$extras" ] && echo " with [$extras]") into .venv" >&2
    .venv/bin/python -m pip install --quiet -e "$spec"
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
  # The panel's message catalogues: .po in git, .mo compiled here when missing or older.
  .venv/bin/python -c "from pathlib import Path; from mailseg.catalogues import compile_catalogues; compile_catalogues(Path('mailseg/translations'))"
}
