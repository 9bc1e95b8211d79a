# A run end to end: start, notes, records, stop; the file with ncdump; bad archive dirs.
. "$(dirname "$0")/lib.sh"

run -c 'set clock.speed 100; run start li1 cell=Li|LiPF6|Li operator=anna title="Li test"; note "plating starts"; record room_temperature 22.5degC; wait 30s; record room_temperature 296K; run status; run stop'
expect_rc 0 "a run from -c"
expect_out "run li1 started: $RUNS/" "run start prints the path"
expect_out "manual/room_temperature_time: 2 records" "run status counts records"
expect_out "run li1 stopped after" "run stop prints"
f=$(runfile)
check "file named <UTC>-<name>.nc" bash -c "basename '$f' | grep -qE '^[0-9]{8}T[0-9]{6}Z-li1\.nc$'"
check "no journal left after a clean stop" test ! -e "$f.journal"
ncdump -h "$f" > hdr 2>&1
check "ncdump -h opens it" grep -q '^netcdf' hdr
for a in ':Conventions = "CF-1.8"' ':title = "Li test"' ':source = "insitu' ':history = ' ':date_created = ' ':cell = "Li|LiPF6|Li"' ':operator = "anna"' ':insitu_state = "complete"' 'group: log' 'group: manual' 'time:units = "seconds since 20' 'room_temperature:units = "degC"' 'level:flag_meanings = "debug info note warning error"'; do
    check "header has $a" grep -qF "$a" hdr
done
ncdump -v room_temperature "$f" | grep -A2 'room_temperature =' | tr -d ' \n' > vals
check "second reading converted to the first unit (296K = 22.85degC)" grep -qE '22\.5,22\.85' vals
ncdump -v text "$f" > txt
check "the note is in the log" grep -qF '"plating starts"' txt
run -c "archive info $f"
expect_out "run: li1 (complete)" "archive info names the run"
expect_out "group manual: 2 records" "archive info counts records"
run -c "archive list"
expect_out "li1" "archive list shows the run"; expect_out "complete" "archive list shows its state"

# An unwritable archive directory: a clear error, no run, nothing left behind
touch notadir
run -c "set archive.dir $T/notadir/runs; run start x"
expect_rc 1 "run start into an impossible directory fails"
expect_err "run start: " "the error names the command"
check "nothing created (notadir still a plain file)" test -f notadir
check "and no stray run file anywhere" test -z "$(find "$T" -name '*-x.nc*')"
if [ "$(id -u)" != 0 ]; then
    mkdir ro && chmod 555 ro
    run -c "set archive.dir $T/ro; run start x"
    expect_rc 1 "read-only directory refused"
    check "nothing in the read-only directory" test -z "$(ls ro)"
else
    echo "skip - read-only directory (root ignores permissions)"
fi
run -c "archive info $T/nope.nc"
expect_rc 1 "archive info of a missing file fails"
printf 'garbage' > junk.nc
run -c "archive info junk.nc"
expect_rc 1 "archive info of garbage fails"; expect_err "junk.nc: cannot open" "garbage named"

# A run stays open after the script ends, until SIGTERM stops it cleanly
"$INSITU" -c 'run start bg; note started' >o 2>e &
pid=$!
sleep 1
check "headless insitu waits for the active run" kill -0 $pid
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM exits 143 (got $rc)" test "$rc" = 143
f=$(ls "$RUNS"/*-bg.nc)
run -c "archive info $f"
expect_out "(complete)" "SIGTERM closed the archive cleanly"
check "no journal after SIGTERM" test ! -e "$f.journal"
ncdump -v text "$f" | grep -qF 'interrupted by SIGTERM'; check "the stop reason is logged" test $? = 0

# wait run ends a script when the run ends; run stop from the same script
run -c 'run start w; repeat 3 { note x }; run stop; wait run; echo after'
expect_rc 0 "wait run without an active run returns"; expect_out "after" "script went on"
