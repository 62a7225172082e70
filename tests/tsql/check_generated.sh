#!/usr/bin/env bash
# Generate every spec (framework and fixtures) into target/tsql-check/ and run the
# SQL Server checks on everything dcgen writes in T-SQL.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TSQL_PYTHON:?set TSQL_PYTHON to the tsql virtualenv python (make test-tsql does)}"
out=target/tsql-check
rm -rf "$out"
specs=(spec)
for fixture in tests/fixtures/*/spec; do specs+=("$fixture"); done
files=()
declarative=()
for spec in "${specs[@]}"; do
  name=$(basename "$(dirname "$spec")")
  [ "$spec" = spec ] && name=framework
  cargo run --quiet -p dcgen -- gen --spec "$spec" --out "$out/$name" --version 20260101000000 >/dev/null
  while IFS= read -r f; do files+=("$f"); done < <(find "$out/$name/migrations/mssql" -name '*.sql' | sort)
  if [ -f "$out/$name/docs/schema.mssql.sql" ]; then declarative+=("$out/$name/docs/schema.mssql.sql"); fi
done
# The schema-evolution series, step after step into one directory, as `make gen` would.
series="$out/series"
step=0
for spec in tests/migrations/series/v*/spec; do
  step=$((step + 1))
  cargo run --quiet -p dcgen -- gen --spec "$spec" --out "$series" --version "2026010100000$step" >/dev/null
done
while IFS= read -r f; do files+=("$f"); done < <(find "$series/migrations/mssql" -name '*.sql' | sort)
"$TSQL_PYTHON" tests/tsql/check_tsql.py "${files[@]}"
[ ${#declarative[@]} -gt 0 ] || { echo "no declarative SQL Server schema was generated"; exit 1; }
for f in "${declarative[@]}"; do "$TSQL_PYTHON" tests/tsql/check_dacfx.py "$f"; done
