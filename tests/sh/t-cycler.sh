# The cycler end to end: insitu-sim's Keithley driving a simulated Li|Li cell.
. "$(dirname "$0")/lib.sh"
[ -x "${INSITU_SIM:-}" ] || { echo "skip - insitu-sim not built"; exit 0; }
export INSITU_SIM

# value of the last record of VAR in group GROUP of run FILE
last() { ncdump -v "$2" -g "$1" "$3" | awk -v v="$2" '/^ *data:/ { d = 1 } d && $1 == v && $2 == "=" { on = 1 } on { print } on && /;/ { exit }' | tr -d ' \n;' | sed "s/^$2=//" | tr ',' '\n' | tail -n 1; }
count() { "$INSITU" -c "archive info $2" | sed -n "s/^group $1: \([0-9]*\) records.*/\1/p"; }

# identification, and a clear error for the wrong model
run -c 'device add cyc keithley2400 sim:li-li; device list; device info cyc'
expect_rc 0 "device add over sim:"
expect_out "MODEL 2400" "the instrument identified itself"
expect_out "cyc        cycler   keithley2400" "device list"
run -c 'device add cyc keithley2450 sim:li-li'
expect_rc 0 "the 2450 dialect"
run -c 'device add cyc keithley9999 sim:li-li'
expect_rc 1 "unknown driver"; expect_err "no such driver" "unknown driver named"
run -c 'device add cyc keithley2400 usb:x'
expect_rc 1 "unknown transport"; expect_err "unknown transport" "unknown transport named"
run -c 'device add cyc keithley2400 tcp:127.0.0.1:1'
expect_rc 1 "refused TCP"; expect_err "refused" "refused connection reported"

# the charge check: 500 mA for 15 h at clock speed 3600 integrates to 7.5 A h within 0.1 %
cat > charge.cmd <<'CMD'
set clock.speed 3600
set cycler.interval 60s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li
run start charge cell="Li|LiPF6|Li"
cycler start { cc 500mA until 15h }
wait run 40h
CMD
start=$(date +%s)
run -x charge.cmd
expect_rc 0 "a 15 h constant-current run at speed 3600"
f=$(ls "$RUNS"/*-charge.nc)
q=$(last ec charge "$f")
check "charge $q A h is 7.5 A h within 0.1 %" awk -v q="$q" 'BEGIN { exit !(q > 7.4925 && q < 7.5075) }'
n=$(count ec "$f")
check "ec records written ($n)" test "${n:-0}" -gt 100
check "took about 15 s of wall time ($(( $(date +%s) - start )) s)" test $(( $(date +%s) - start )) -lt 40
ncdump -h "$f" > hdr
for a in 'voltage:units = "V"' 'current:units = "A"' 'charge:units = "A h"' ':protocol = "' ':instrument = "KEITHLEY'; do
    check "ec has $a" grep -qF "$a" hdr
done

# every end condition, loops, rest: the step numbers recorded and the charge of each
cat > steps.cmd <<'CMD'
set clock.speed 3600
set cycler.interval 30s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li
run start steps
cycler start {
  cc 500mA until 1Ah
  rest 30min
  loop 2 {
    cc 100mA until 10min
    cc -100mA until 10min
  }
}
wait run 40h
CMD
run -x steps.cmd
expect_rc 0 "protocol with charge end, rest and a loop"
f=$(ls "$RUNS"/*-steps.nc)
q=$(last ec charge "$f")
check "charge after 1 A h, rest and balanced loops: $q A h (1.0 within 1 %)" awk -v q="$q" 'BEGIN { exit !(q > 0.99 && q < 1.01) }'
steps=$(ncdump -v step -g ec "$f" | sed -n '/step = /,/;/p' | tr -d ' \n;' | sed 's/step=//' | tr ',' '\n' | sort -nu | tr '\n' ' ')
check "steps 1-4 all recorded ($steps)" test "$steps" = "1 2 3 4 "
hc=$(last ec half_cycle "$f")
check "half cycles counted ($hc)" test "${hc:-0}" -ge 3

# the safety limit: a window the cell's voltage leaves trips at the first sample (the
# instrument's compliance is the window's larger magnitude, 1 V here, so it does not clamp)
cat > trip.cmd <<'CMD'
set clock.speed 100
set cycler.limit.voltage -1V 5mV
device add cyc keithley2400 sim:li-li
run start trip
cycler start { cc 500mA until 1h }
wait run 2h
CMD
run -x trip.cmd
expect_rc 0 "a tripping protocol ends the run"
expect_err "safety limit" "the trip is reported"
f=$(ls "$RUNS"/*-trip.nc)
ncdump -v text -g log "$f" > log.txt
check "the trip is in the run's log" grep -q "safety limit" log.txt
check "and the output went off" grep -q "output off" log.txt
n=$(count ec "$f")
check "output off within one sample ($n record)" test "${n:-9}" -le 2

# faults: an instrument that stalls is detected, re-identified and the gap is logged
cat > stall.cmd <<'CMD'
set clock.speed 60
set cycler.interval 10s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li,stall=2+5
run start stall
cycler start { cc 100mA until 15min }
wait run 2h
CMD
run -x stall.cmd
expect_rc 0 "a run through a stalled instrument completes"
expect_err "communication lost" "the stall is detected"
f=$(ls "$RUNS"/*-stall.nc)
ncdump -v text -g log "$f" > log.txt
check "the gap is in the run's log" grep -q "no data from" log.txt
check "the step was restored after reconnection" grep -q "reconnected" log.txt

# garbage and a disconnect
cat > dis.cmd <<'CMD'
set clock.speed 60
set cycler.interval 10s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li,disconnect=2
run start dis
cycler start { cc 100mA until 10min }
wait run 2h
CMD
run -x dis.cmd
expect_rc 0 "a run through a disconnect completes"
expect_err "connection closed" "the disconnect is detected"
f=$(ls "$RUNS"/*-dis.nc)
ncdump -v text -g log "$f" > log.txt
check "reconnected after the disconnect" grep -q "back; no data from" log.txt

# gcpl between voltage limits and a cv sweep (the 2400 sources voltage)
cat > gcpl.cmd <<'CMD'
set clock.speed 3600
set cycler.interval 30s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li
run start gcpl
cycler start {
  gcpl 500mA limits -40mV 40mV cycles 2
  cv 0V 50mV 1mV/s cycles 1
}
wait run 40h
CMD
run -x gcpl.cmd
expect_rc 0 "gcpl and cv complete"
f=$(ls "$RUNS"/*-gcpl.nc)
hc=$(last ec half_cycle "$f")
check "gcpl: two cycles are four half cycles ($hc)" test "${hc:-0}" -ge 3
ncdump -v current,step -g ec "$f" > cv.txt
check "cv: the second step was recorded" grep -q " 2" cv.txt

# an instrument that sends garbage now and then: the run goes on
cat > garbage.cmd <<'CMD'
set clock.speed 360
set cycler.interval 10s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li,garbage=0.2
run start garbage
cycler start { cc 100mA until 30min }
wait run 2h
CMD
run -x garbage.cmd
expect_rc 0 "a run through garbled replies completes"
expect_err "unexpected reply" "garbage is noticed"
f=$(ls "$RUNS"/*-garbage.nc)
q=$(last ec charge "$f")
check "and the charge is still right: $q A h (0.05 within 1 %)" awk -v q="$q" 'BEGIN { exit !(q > 0.0495 && q < 0.0505) }'

# the wrong model: a standalone simulator of a 2400 on TCP, driven as a 2450
port=$(( 20000 + RANDOM % 20000 ))
"$INSITU_SIM" --listen 127.0.0.1:$port keithley2400:li-li 2>/dev/null &
simpid=$!
for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
run -c "device add cyc keithley2450 tcp:127.0.0.1:$port"
expect_rc 1 "the wrong model is refused"
expect_err "MODEL 2400 (use driver keithley2400)" "and the error says which driver to use"
run -c "set clock.speed 10; device add cyc keithley2400 tcp:127.0.0.1:$port"
expect_rc 1 "a tcp instrument is real: clock.speed must be 1"
expect_err "a real instrument needs 1" "the clock rule is explained"
kill $simpid 2>/dev/null; wait $simpid 2>/dev/null

# pause and resume: the step's clock stops while paused, and the charge is exact
cat > pause.cmd <<'CMD'
set clock.speed 3600
set cycler.interval 60s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li
run start pause
cycler start { cc 200mA until 1h }
wait 20min
cycler pause
cycler status
wait 30min
cycler resume
wait run 10h
CMD
run -x pause.cmd
expect_rc 0 "pause and resume"
expect_out "paused" "cycler status shows the pause"
f=$(ls "$RUNS"/*-pause.nc)
q=$(last ec charge "$f")
check "1 h of 200 mA around a 30 min pause: $q A h (0.2 within 1 %)" awk -v q="$q" 'BEGIN { exit !(q > 0.198 && q < 0.202) }'
t=$(last ec time "$f")
check "and the step took 1.5 h of experiment time ($t s)" awk -v t="$t" 'BEGIN { exit !(t > 5300 && t < 5600) }'

# run.end manual keeps the run open after the protocol
run -c 'set clock.speed 3600; set run.end manual; set cycler.limit.voltage -1V 1V
        device add cyc keithley2400 sim:li-li; run start manual
        cycler start { cc 100mA until 10min }; wait 1h; run status; cycler status; run stop'
expect_rc 0 "run.end manual"
expect_out "run manual" "the run was still active after its protocol"
expect_out "cycler cyc: done" "the protocol was done"

# the cycler pane, live, in the insitu layout
if command -v tmux >/dev/null; then
    . "$SHDIR/tmux.sh"
    tui_start 120x40 LANG=C.UTF-8 --
    tui_cmd 'layout load insitu'
    tui_cmd 'set clock.speed 3600'
    tui_cmd 'set cycler.limit.voltage -1V 1V'
    tui_cmd 'device add cyc keithley2400 sim:li-li'
    tui_cmd 'cycler start { cc 500mA until 15h }'
    tui_wait_for "cyc running" 10
    sleep 2
    screen_has "cyc running" "the cycler pane shows the state"
    screen_has "step 1/1 cc 500mA until 15h" "and the step"
    screen_has "I 500 mA" "and the current"
    screen_has "cyc ok" "the status line lists the instrument"
    screen_has "voltage [V]" "and V(t) is plotted"
    tui_stop
fi

# protocol errors name file and line, nothing runs
printf 'set archive.dir %s/badruns\ndevice add cyc keithley2400 sim:li-li\ncycler start {\n  cc 500mA until 15h\n  cc 5mV until 1h\n}\n' "$T" > bad.cmd
run -x bad.cmd
expect_rc 1 "a bad protocol fails"
expect_err 'bad.cmd:5: cc: "5mV" is a voltage, not a current' "protocol error with file:line"
check "no run was started by it" test -z "$(ls "$T/badruns" 2>/dev/null)"
