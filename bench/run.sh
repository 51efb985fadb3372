#!/usr/bin/env bash
# Load benchmark of the packaged server: bench/run.sh [h2|postgres] [LoadDriver options…]
#
# Builds the jar and the driver if needed, starts a fresh database (H2: a file in a temp dir; PostgreSQL: a
# throwaway cluster initdb'd from /usr/lib/postgresql/<ver>/bin, fsync and synchronous_commit on), lets the
# load driver start `java -Xms1g -Xmx1g -jar bot-server/target/countersign.jar serve` on it, runs the phases,
# prints the results table, and stops everything. Results are also appended to bench/target/results-<db>.md.
# Extra options go to the driver, e.g. --phases low --concurrency 8 --duration 5 (see LoadDriver's usage).
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-h2}
shift || true
case "$db" in h2|postgres) ;; *) echo "usage: bench/run.sh [h2|postgres] [driver options]" >&2; exit 2 ;; esac

jar=bot-server/target/countersign.jar
driver=bench/target/classes/dev/countersign/bench/LoadDriver.class
# Build when the jar or the driver is missing or older than any main source.
if [[ ! -f $jar || ! -f $driver ]] || [[ -n $(find bot-core/src/main bot-server/src agent-client/src bench/src bench/pom.xml bot-*/pom.xml pom.xml -newer "$jar" -type f 2>/dev/null | head -1) ]]; then
  echo "building (./mvnw install -DskipTests)…"
  ./mvnw -q -o install -DskipTests || ./mvnw -q install -DskipTests
fi
cp_file=bench/target/classpath.txt
./mvnw -q -o -pl bench dependency:build-classpath -Dmdep.outputFile="$PWD/$cp_file" >/dev/null \
  || ./mvnw -q -pl bench dependency:build-classpath -Dmdep.outputFile="$PWD/$cp_file" >/dev/null

work=$(mktemp -d /tmp/countersign-bench-XXXXXX)
chmod 755 "$work"
pg_ctl=""
pg_data=""
as_pg=()
cleanup() {
  if [[ -n $pg_ctl ]]; then
    "${as_pg[@]}" "$pg_ctl" stop -D "$pg_data" -m fast -w >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

db_args=()
if [[ $db == h2 ]]; then
  db_args=(--database-url "jdbc:h2:file:$work/db;WRITE_DELAY=0")
else
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -x $bin/initdb ]] || { echo "no PostgreSQL server binaries in /usr/lib/postgresql/<ver>/bin (apt-get install postgresql)" >&2; exit 2; }
  mkdir -p "$work/pg"
  if [[ $(id -u) == 0 ]]; then
    chown postgres "$work/pg"
    as_pg=(runuser -u postgres --)
  fi
  pg_data=$work/pg/data
  "${as_pg[@]}" "$bin/initdb" -D "$pg_data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$work/pg/initdb.log" 2>&1
  port=""
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! ss -ltn 2>/dev/null | grep -q ":$p "; then port=$p; break; fi
  done
  [[ -n $port ]] || { echo "no free port for PostgreSQL" >&2; exit 2; }
  pg_ctl=$bin/pg_ctl
  "${as_pg[@]}" "$pg_ctl" start -w -t 120 -D "$pg_data" -l "$work/pg/postgres.log" -o "-c listen_addresses=127.0.0.1 -c port=$port \
-c unix_socket_directories='$work/pg' -c fsync=on -c synchronous_commit=on -c max_connections=300 -c shared_buffers=256MB" >/dev/null
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync=on, synchronous_commit=on)"
  db_args=(--database-url "jdbc:postgresql://127.0.0.1:$port/postgres" --database-user postgres)
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p bench/target
# this tree's test-jar first: the copy in ~/.m2 may come from another checkout
java -Xms512m -Xmx1g -cp "bench/target/classes:bot-server/target/countersign-tests.jar:agent-client/target/classes:$(cat "$cp_file")" dev.countersign.bench.LoadDriver \
  --jar "$jar" "${db_args[@]}" --server-jvm-args "-Xms1g -Xmx1g" --work-dir "$work" \
  --label "$db" --out "bench/target/results-$db.md" "$@"
