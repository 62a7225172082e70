#!/bin/bash
# What bounds plain COPY into `logs` (BENCHMARKS.md, Logging): N rows shaped like the logging
# bench's, COPYed into copies of `logs` with parts removed, then into `logs` itself on one and
# on two connections, with the backends' CPU time per row.
#
#   cargo build -p pg-harness && N=200000 target/debug/pg-harness run -- runtime/logging/benches/copy-variants.sh
set -euo pipefail
N=${N:-200000}
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d /tmp/copy-variants.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
P="psql -X -q -v ON_ERROR_STOP=1 $DATABASE_URL"
for f in "$REPO"/generated/migrations/postgres/*/up.sql; do $P -f "$f" >/dev/null; done
APP=$(printf 'a%.0s' $(seq 64)); RT=$(printf 'b%.0s' $(seq 64))
$P -c "INSERT INTO app_groups (name) VALUES ('bench'); INSERT INTO app_parents (name, group_name) VALUES ('logging', 'bench')"
$P -c "INSERT INTO apps (app, group_name, parent_name, app_name) VALUES ('$APP', 'bench', 'logging', 'throughput')"
$P -c "INSERT INTO runtime (runtime, app_id, start_time) VALUES ('$RT', '$APP', now())"
# The bench's row: app, module, file, no function or chain, instance, line, INFO, message, three fields, runtime, time.
python3 - "$N" "$APP" "$RT" > "$WORK/rows.tsv" <<'PY'
import sys
n, app, rt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    sys.stdout.write(f'{app}\tlogging\truntime/logging/benches/logging.rs\t\\N\t\\N\t\\N\t1\t122\t20\tprice checked\t{{"shop":"zagreb","price":{i},"fresh":true}}\t{rt}\t2026-12-02 14:00:00.{i % 1000000:06d}\n')
PY
head -n $((N / 2)) "$WORK/rows.tsv" > "$WORK/first.tsv"; tail -n $((N - N / 2)) "$WORK/rows.tsv" > "$WORK/second.tsv"
split -l 5000 -d -a 4 "$WORK/rows.tsv" "$WORK/batch_"
chmod 644 "$WORK"/*
COLS="app_id,module_name,module_path,function_name,function_id,call_chain,instance_id,lineno,log_level,msg,context_json,runtime,date_created"
# The backends' CPU seconds: what the postmaster has reaped of its exited children.
PM=$(head -1 "$($P -At -c 'SHOW data_directory')/postmaster.pid"); TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ print ($16 + $17) / t }' "/proc/$PM/stat"; }
measure() { # label, table, command...
  local label=$1 table=$2; shift 2
  $P -c "TRUNCATE $table"; $P -c "CHECKPOINT"; sleep 0.3
  local c0 s e c1; c0=$(cpu); s=$(date +%s.%N)
  "$@"
  e=$(date +%s.%N); sleep 0.5; c1=$(cpu)
  printf '  %-62s %7.0f rows/s, backend CPU %5.1f us/row, load %s\n' "$label" "$(echo "$N / ($e - $s)" | bc -l)" "$(echo "($c1 - $c0) * 1000000 / $N" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
}
copy_all() { $P -c "\\copy $1 ($COLS) FROM '$WORK/rows.tsv'"; }
copy_two() { $P -c "\\copy logs ($COLS) FROM '$WORK/first.tsv'" & $P -c "\\copy logs ($COLS) FROM '$WORK/second.tsv'"; wait; }
copy_batches() { for f in "$WORK"/batch_*; do echo "\\copy logs ($COLS) FROM '$f'"; done | $P; }
FK_APP="ALTER TABLE v ADD FOREIGN KEY (app_id) REFERENCES apps (app)"
FK_RUNTIME="ALTER TABLE v ADD FOREIGN KEY (runtime) REFERENCES runtime (runtime)"
FK_LEVEL="ALTER TABLE v ADD FOREIGN KEY (log_level) REFERENCES c_log_level (id)"
NO_INDEXES="DROP INDEX v_app_id_idx, v_function_id_idx, v_log_level_idx, v_runtime_idx, v_sha_idx"
variant() { # label, SQL that makes `v` (a copy of logs with its primary key and indexes) the variant
  $P -c "DROP TABLE IF EXISTS v; CREATE TABLE v (LIKE logs INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING INDEXES)" 2>/dev/null
  $P -c "$2" >/dev/null
  measure "$1" v copy_all v
}
echo "N=$N rows; load $(cat /proc/loadavg)"
variant "3 foreign keys, primary key + 5 indexes (as logs)" "$FK_APP; $FK_RUNTIME; $FK_LEVEL"
variant "only the app_id foreign key, primary key + 5 indexes" "$FK_APP"
variant "only the runtime foreign key, primary key + 5 indexes" "$FK_RUNTIME"
variant "only the log_level foreign key, primary key + 5 indexes" "$FK_LEVEL"
variant "no foreign keys, primary key + 5 indexes" "SELECT 1"
variant "3 foreign keys, primary key only" "$NO_INDEXES; $FK_APP; $FK_RUNTIME; $FK_LEVEL"
variant "no foreign keys, primary key only" "$NO_INDEXES"
variant "no foreign keys, no indexes, no primary key" "$NO_INDEXES; ALTER TABLE v DROP CONSTRAINT v_pkey"
for run in 1 2; do
  measure "logs, one COPY" logs copy_all logs
  measure "logs, COPYs of 5000 rows, one transaction each" logs copy_batches
  measure "logs, two COPYs of N/2 on two connections at once" logs copy_two
done
