#!/usr/bin/env bash
# bench_cycler: readings per second the engine sustains from insitu-sim's Keithley (headless,
# no UI), each one a SCPI :READ? round trip, charge integration and an archived ec record.
set -u
INSITU=${INSITU:-$PWD/build/insitu}
export INSITU_SIM=${INSITU_SIM:-$(dirname "$INSITU")/insitu-sim}
[ -x "$INSITU_SIM" ] || { echo "insitu-sim missing: skipped"; exit 0; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export XDG_DATA_HOME=$T/d XDG_CONFIG_HOME=$T/c HOME=$T
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$T/rss" "$INSITU" -q -c 'set clock.speed 100000; set cycler.interval 1s
  set cycler.max_rate 100000Hz; set cycler.nplc 0.01; set cycler.limit.voltage -1V 1V
  device add cyc keithley2400 sim:li-li; run start bench
  cycler start { cc 100mA until 300h }; wait run 400h' >/dev/null
end=$(date +%s.%N)
f=$(ls "$T"/d/insitu/runs/*.nc)
n=$("$INSITU" -c "archive info $f" | sed -n 's/^group ec: \([0-9]*\) records.*/\1/p')
awk -v n="$n" -v a="$start" -v b="$end" -v rss="$(cat "$T/rss")" 'BEGIN {
  printf "cycler: %d readings in %.1f s = %.0f readings/s (SCPI round trip + charge + archive), peak RSS %d MB\n", n, b - a, n / (b - a), rss / 1024 }'
