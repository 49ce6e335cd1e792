#!/usr/bin/env bash
# Regenerate dashboards/schema/*.schema.json: JSON Schemas (draft-07) made from the
# TypeScript types of @grafana/schema with ts-json-schema-generator.
#
#   bash tools/make_dashboard_schema.sh
#
# Needs node and npm. Installs the pinned packages into a temporary folder, so
# nothing is added to the repository but the schemas. The Grafana version matches
# the grafana-foundation-sdk build the dashboards are written with (11.6).
set -euo pipefail

GRAFANA_SCHEMA=11.6.0
GENERATOR=2.9.0
TYPESCRIPT=5.9.3

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/dashboards/schema"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
  "@grafana/schema@$GRAFANA_SCHEMA" "ts-json-schema-generator@$GENERATOR" "typescript@$TYPESCRIPT"

raw=node_modules/@grafana/schema/dist/esm/raw
generate() {  # generate FILE TYPE NAME
  npx --no-install ts-json-schema-generator --path "$1" --type "$2" --no-type-check \
    --out "$work/$3.schema.json"
}

generate "$raw/dashboard/x/dashboard_types.gen.d.ts" Dashboard dashboard
for spec in stat:Options table:Options table:FieldConfig bargauge:Options timeseries:Options timeseries:FieldConfig; do
  panel="${spec%%:*}" type="${spec##*:}"
  generate "$(ls "$raw"/composable/"$panel"/panelcfg/x/*_types.gen.d.ts)" "$type" "panel-$panel-$(echo "$type" | tr 'A-Z' 'a-z')"
done

mkdir -p "$out"
rm -f "$out"/*.schema.json
for file in "$work"/*.schema.json; do
  # Sorted keys, 2-space indent, final newline: diffs stay small when versions move.
  python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), indent=2, sort_keys=True, ensure_ascii=False))' \
    "$file" > "$out/$(basename "$file")"
done
printf '@grafana/schema %s, ts-json-schema-generator %s, typescript %s\n' \
  "$GRAFANA_SCHEMA" "$GENERATOR" "$TYPESCRIPT" > "$out/VERSION"
ls -1 "$out"
