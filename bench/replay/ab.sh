#!/usr/bin/env bash
# The heartbeat's SQL replayed by pgbench against two databases in turn, for the PostgreSQL CPU a beat costs
# under two schemas on a noisy machine (issue 4). Usage, from the project's root:
#
#   .venv/bin/python bench/heartbeat_profile.py --learners 300 --rounds 1 --keep   # database safetrain_bench_profile
#   bench/replay/ab.sh prepare                      # the profile database, ready for the replay (sessions active)
#   createdb -h 127.0.0.1 -U postgres -T safetrain_bench_profile st_a      # and st_b, then change st_b's schema
#   bench/replay/ab.sh st_a st_b 6 5                # 6 pairs of 5 s runs, alternating; prints the medians
#
# beat.sql is one beat as `heartbeat_profile.py --show-sql` prints it (issue 28's hot path), in the same two round
# trips (pipelines): BEGIN and the locked read, then the writes and the commit; regenerate it when the beat's SQL
# changes. The CPU is that of every PostgreSQL process (from /proc, children included, so the backends pgbench
# started and that exited are counted), divided by the transactions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pg=(-h 127.0.0.1 -U postgres)

if [ "${1:-}" = prepare ]; then
  # every session playing again; sign-in n's token digest 'k<n>', as beat.sql looks session n's sign-in up
  psql "${pg[@]}" -d safetrain_bench_profile -qc "UPDATE learning_studysession SET state = 'active'" \
    -c "UPDATE accounts_authsession SET key_digest = 'k' || id"
  exit
fi

cpu() {  # ticks (1/100 s) of every postgres process, itself and its reaped children
  local total=0 p s
  for p in $(pgrep -u postgres); do
    s=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + s))
  done
  echo "$total"
}

a=$1 b=$2 pairs=${3:-6} seconds=${4:-5}
results=$(mktemp)
for _ in $(seq 1 "$pairs"); do
  for db in "$a" "$b"; do
    before=$(cpu)
    out=$(pgbench "${pg[@]}" -n -M prepared -c 2 -j 1 -T "$seconds" -f "$here/beat.sql" "$db" 2>&1)
    after=$(cpu)
    n=$(echo "$out" | awk '/number of transactions actually processed/ {print $NF}' | cut -d/ -f1)
    echo "$db $n $(( (after - before) * 10 ))" >> "$results"   # ms of CPU in all, for n transactions
  done
done
python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    db, n, ms = line.split()
    runs[db].append(int(ms) / int(n))
for db, per in runs.items():
    print(f"{db}: PostgreSQL CPU a beat, median {statistics.median(per):.3f} ms of {len(per)} runs:",
          " ".join(f"{x:.3f}" for x in per))
PY
rm -f "$results"
