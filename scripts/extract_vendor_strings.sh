#!/usr/bin/env bash
# django-unfold ships no Italian: collect its strings into locale/vendor/it/LC_MESSAGES/django.po,
# keeping the translations already there. Needs GNU gettext. Run after upgrading django-unfold,
# translate the new entries, then: .venv/bin/python manage.py compilemessages
set -euo pipefail
cd "$(dirname "$0")/.."
site=$(.venv/bin/python -c 'import os, unfold; print(os.path.dirname(unfold.__file__))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$site" "$work/unfold"
mkdir -p "$work/unfold/locale"
(cd "$work/unfold" && env -u DJANGO_SETTINGS_MODULE "$OLDPWD/.venv/bin/python" -m django makemessages -l it --no-location --no-obsolete -v 0)
target=locale/vendor/it/LC_MESSAGES/django.po
mkdir -p "$(dirname "$target")"
if [ -f "$target" ]; then
  msgmerge --quiet --no-location --no-fuzzy-matching --backup=none -U "$target" "$work/unfold/locale/it/LC_MESSAGES/django.po"
  msgattrib --no-obsolete -o "$target" "$target"
else
  cp "$work/unfold/locale/it/LC_MESSAGES/django.po" "$target"
fi
echo "$(grep -c '^msgid ' "$target") strings in $target"
