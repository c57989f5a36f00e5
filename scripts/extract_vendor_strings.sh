#!/usr/bin/env bash
# django-unfold and django-axes ship no Italian: collect their strings into
# locale/vendor/it/LC_MESSAGES/django.po, keeping the translations already there. Needs GNU gettext.
# Run after upgrading either, translate the new entries, then: .venv/bin/python manage.py compilemessages
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
parts=()
for package in unfold axes; do
  site=$(.venv/bin/python -c "import os, $package; print(os.path.dirname($package.__file__))")
  cp -r "$site" "$work/$package"
  rm -rf "$work/$package/locale"
  mkdir -p "$work/$package/locale"
  (cd "$work/$package" && env -u DJANGO_SETTINGS_MODULE "$root/.venv/bin/python" -m django makemessages \
      -l it --no-location --no-obsolete -v 0)
  parts+=("$work/$package/locale/it/LC_MESSAGES/django.po")
done
msgcat --use-first --no-location -o "$work/all.po" "${parts[@]}"
target=locale/vendor/it/LC_MESSAGES/django.po
mkdir -p "$(dirname "$target")"
if [ -f "$target" ]; then
  msgmerge --quiet --no-location --no-fuzzy-matching --backup=none -U "$target" "$work/all.po"
  msgattrib --no-obsolete -o "$target" "$target"
else
  cp "$work/all.po" "$target"
fi
echo "$(grep -c '^msgid ' "$target") strings in $target"
