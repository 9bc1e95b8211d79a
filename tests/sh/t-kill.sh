# No acknowledged record may be lost: SIGKILL insitu at 50 random moments during a run, then
# every file opens (directly or after `archive recover`) and holds every record acknowledged
# (echoed) before the kill.
. "$(dirname "$0")/lib.sh"

N=${KILL_ROUNDS:-50}
cat > gen.cmd <<'CMD'
run start kill
repeat 1000000 {
  record counter 1
  note tick
  echo acked
}
CMD
bad=0; recovered=0
for i in $(seq 1 "$N"); do
    rm -rf "$RUNS"
    "$INSITU" -x gen.cmd >o 2>e &
    pid=$!
    # a random moment between 20 ms and 1 s
    sleep "0.$(printf '%03d' $(( (RANDOM % 980) + 20 )))"
    kill -9 $pid; wait $pid 2>/dev/null
    acked=$(grep -c '^acked$' o)
    f=$(ls "$RUNS"/*.nc 2>/dev/null | head -n 1)
    if [ -z "$f" ]; then
        [ "$acked" = 0 ] || { nok "round $i: $acked acked but no file"; bad=1; }
        continue
    fi
    if ! "$INSITU" -c "archive info $f" >info 2>ierr; then
        if "$INSITU" -c "archive recover $f" >rec 2>rerr; then
            recovered=$((recovered + 1))
            "$INSITU" -c "archive info $f" >info 2>ierr || { nok "round $i: unreadable after recover: $(cat ierr)"; bad=1; continue; }
        else
            nok "round $i: recover failed: $(cat rerr)"; bad=1; continue
        fi
    elif [ -e "$f.journal" ]; then
        # it opens, but the journal may hold more than the file: recover always when present
        "$INSITU" -c "archive recover $f" >rec 2>rerr && recovered=$((recovered + 1))
        "$INSITU" -c "archive info $f" >info 2>ierr
    fi
    m=$(sed -n 's/^group manual: \([0-9]*\) records.*/\1/p' info)
    lg=$(sed -n 's/^group log: \([0-9]*\) records.*/\1/p' info)
    if [ "${m:-0}" -lt "$acked" ] || [ "${lg:-0}" -lt "$acked" ]; then
        nok "round $i: $acked acknowledged, file has manual=${m:-0} log=${lg:-0}"; bad=1
    fi
done
[ $bad = 0 ] && ok "$N SIGKILLs: every file readable, every acknowledged record kept ($recovered recovered)"
