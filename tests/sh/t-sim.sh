# insitu-sim: the simulated Keithley SourceMeters over TCP and stdio, the simulated clock, the
# cell's response, fault injection and usage errors.
. "$(dirname "$0")/lib.sh"
: "${INSITU_SIM:?INSITU_SIM must point at the insitu-sim binary}"
SIM=$INSITU_SIM

# talk.py HOST PORT: a scripted client. Script lines on stdin:
#   > TEXT        send TEXT and a newline
#   ? SECONDS     print the next line received within SECONDS, or <timeout>
#   . SECONDS     sleep
#   eof SECONDS   print <closed> if the peer closes within SECONDS, else <open>
#   t             print the seconds since the last '>' (to time replies)
cat > "$T/talk.py" <<'EOF'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
buf = b""; sent = time.monotonic()
def line(timeout):
    global buf
    end = time.monotonic() + timeout
    while b"\n" not in buf:
        left = end - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(4096)
        except socket.timeout:
            return None
        if not d:
            return b""
        buf += d
    l, buf = buf.split(b"\n", 1)
    return l
for cmd in sys.stdin.read().splitlines():
    op, _, arg = cmd.partition(" ")
    if op == ">":
        s.sendall(arg.encode() + b"\n"); sent = time.monotonic()
    elif op == "?":
        l = line(float(arg))
        print("<timeout>" if l is None else "<closed>" if l == b"" else
              l.decode("ascii", "backslashreplace"), flush=True)
    elif op == ".":
        time.sleep(float(arg))
    elif op == "eof":
        l = line(float(arg))
        print("<closed>" if l == b"" else "<open>", flush=True)
    elif op == "t":
        print("%.3f" % (time.monotonic() - sent), flush=True)
EOF

# start_sim ARGS...: start insitu-sim --listen on a free loopback port; sets $pid and $port
start_sim() {
    "$SIM" --listen 127.0.0.1:0 "$@" 2>"$T/sim.err" &
    pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$T/sim.err")
        [ -n "$port" ] && break
        sleep 0.02
    done
    [ -n "$port" ] || { nok "insitu-sim did not listen: $(cat "$T/sim.err")"; exit 1; }
}
stop_sim() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
talk() { python3 "$T/talk.py" 127.0.0.1 "$port" > "$T/talk.out"; }
# nth N: the Nth line of the last conversation; field N M: the Mth comma-separated field of it
nth() { sed -n "${1}p" "$T/talk.out"; }
field() { nth "$1" | cut -d, -f"$2"; }
# fcmp A OP B: floating-point comparison (OP one of < > <= >=)
fcmp() { python3 -c "import sys; sys.exit(0 if float('$1') $2 float('$3') else 1)"; }

# --- usage -------------------------------------------------------------------------------
"$SIM" --help >"$T/o" 2>&1; rc=$?
check "--help exits 0" test "$rc" = 0
check "--help prints usage and the drivers" grep -q 'usage: insitu-sim.*keithley2400' <(tr '\n' ' ' <"$T/o")
"$SIM" >"$T/o" 2>"$T/e"; rc=$?
check "no instrument: exit 2 ($rc)" test "$rc" = 2
check "no instrument: says what is missing" grep -qF 'insitu-sim: missing DRIVER[:MODEL]' "$T/e"
"$SIM" --stdio nosuch:li-li >"$T/o" 2>"$T/e"; rc=$?
check "unknown driver: exit 2 ($rc)" test "$rc" = 2
check "unknown driver: lists the drivers" grep -qF 'unknown driver "nosuch" (keithley2400, keithley2450, keithley6430, nmrsim)' "$T/e"
"$SIM" keithley2400:nosuch >"$T/o" 2>"$T/e"; rc=$?
check "unknown model: exit 2 ($rc)" test "$rc" = 2
check "unknown model: lists the cell files" grep -qF 'unknown model "nosuch" (' "$T/e"
check "unknown model: li-li among them" grep -q 'li-li' "$T/e"
"$SIM" --fault stall=x keithley2400:li-li >"$T/o" 2>"$T/e"; rc=$?
check "bad fault: exit 2 ($rc)" test "$rc" = 2
check "bad fault: says why" grep -qF 'stall=x: want T[+D] in seconds' "$T/e"
"$SIM" keithley2400:li-li,frob=1 >"$T/o" 2>"$T/e"; rc=$?
check "unknown option: exit 2 ($rc)" test "$rc" = 2
check "unknown option: named" grep -qF 'unknown option "frob"' "$T/e"
"$SIM" keithley2400:li-li,area=5V >"$T/o" 2>"$T/e"; rc=$?
check "cell parameter with a wrong unit: exit 2 ($rc)" test "$rc" = 2
check "cell parameter error names it" grep -qF 'area=5V: "5V": wrong unit (need m2)' "$T/e"
"$SIM" --bogus keithley2400 >"$T/o" 2>"$T/e"; rc=$?
check "unknown command-line option: exit 2 ($rc)" test "$rc" = 2
check "unknown command-line option named" grep -qF 'unknown option --bogus' "$T/e"
printf 'area 1.77V\n' > bad.cell
"$SIM" keithley2400:cell=bad.cell >"$T/o" 2>"$T/e"; rc=$?
check "bad cell file: exit 1 ($rc)" test "$rc" = 1
check "bad cell file: FILE:LINE: NAME: reason" grep -qF 'bad.cell:1: area: "1.77V": wrong unit (need m2)' "$T/e"

# --- stdio: what insitu's sim: transport uses --------------------------------------------
printf '*IDN?\n:SOUR:FUNC CURR\r\n:SOUR:CURR:LEV -0.5\n:SOUR:CURR:VLIM 2\n:SENS:FUNC "VOLT"\n:OUTP ON\n:READ? "defbuffer1", READ, SOUR, REL\n' |
    "$SIM" --stdio keithley2450:na-na >"$T/o" 2>"$T/e"; rc=$?
check "stdio: ends at end of input, exit 0 ($rc)" test "$rc" = 0
check "2450 *IDN?" grep -qxF 'KEITHLEY INSTRUMENTS,MODEL 2450,04417720,1.6.7c insitu-sim' "$T/o"
r=$(sed -n 2p "$T/o")
check "2450 READ? READ,SOUR,REL gives three values ($r)" test "$(echo "$r" | tr ',' '\n' | wc -l)" = 3
check "2450: negative current, negative voltage" fcmp "$(echo "$r" | cut -d, -f1)" '<' -0.05
check "2450: the source value is the current" fcmp "$(echo "$r" | cut -d, -f2)" '==' -0.5

# stdin and stdout the same socket, as insitu runs it
python3 - "$SIM" >"$T/o" 2>"$T/e" <<'EOF'
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "--stdio", "keithley2400:li-li"], stdin=b, stdout=b)
b.close()
a.sendall(b"*IDN?\n:OUTP?\n")
a.settimeout(2); data = b""
while data.count(b"\n") < 2:
    data += a.recv(4096)
a.shutdown(socket.SHUT_WR)
print(data.decode().replace("\n", "|"))
print("exit", p.wait(timeout=2))
EOF
check "stdio over one socketpair answers" grep -qF 'MODEL 2400,4117720' "$T/o"
check "stdio over one socketpair exits at end of input" grep -qx 'exit 0' "$T/o"

printf '*IDN?\n%.0s' $(seq 40) | "$SIM" --stdio keithley2400:li-li,drop=0.5 >"$T/o" 2>"$T/e"
n=$(grep -c MODEL "$T/o")
check "drop=0.5 loses some replies, not all ($n of 40)" test "$n" -gt 5 -a "$n" -lt 35
printf '*IDN?\n%.0s' $(seq 40) | "$SIM" --stdio --fault drop=0.5 keithley2400:li-li >"$T/o2" 2>"$T/e"
check "drop is reproducible (same seed, same replies)" cmp -s "$T/o" "$T/o2"
printf '*IDN?\n*IDN?\n' | "$SIM" --stdio keithley2400:li-li,garbage=1 >"$T/o" 2>"$T/e"
check "garbage=1: two lines" test "$(wc -l <"$T/o")" = 2
check "garbage=1: non-ASCII bytes instead of the reply" env LC_ALL=C grep -qa '[^ -~]' "$T/o"
check "garbage=1: nothing of the reply" test "$(grep -ac MODEL "$T/o")" = 0

# disconnect in stdio mode: the process exits
start=$(date +%s.%N)
"$SIM" --stdio keithley2400:li-li,disconnect=0.3 < <(sleep 3) >"$T/o" 2>"$T/e"; rc=$?
took=$(python3 -c "import time; print(time.time() - $start)")
check "stdio disconnect=0.3 exits (exit $rc after ${took}s)" fcmp "$took" '<' 3
check "stdio disconnect says so" grep -qF 'fault: disconnect at 0.3s' "$T/e"

# --- TCP: a 2400 driving a Li|Li cell ------------------------------------------------------
start_sim keithley2400:li-li
talk <<'EOF'
> *IDN?
? 2
> *RST
> :SOUR:FUNC CURR
> :SOUR:CURR:MODE FIX
> :SOUR:CURR:RANG:AUTO 1
> :SENS:FUNC 'VOLT'
> :SENS:VOLT:PROT 2
> :SENS:VOLT:NPLC 1
> :FORM:ELEM VOLT,CURR,RES,TIME,STAT
> :READ?
? 2
> :SOUR:CURR 0.5
> :OUTP 1
> :OUTP?
? 2
> :READ?
? 2
> :SOURce:CURRent -0.5
> READ?
? 2
> :SENS:VOLT:PROT 0.02
> :SOUR:CURR 0.5
> :READ?
? 2
> :SENS:VOLT:PROT:TRIP?
? 2
> :FOO:BAR 1
> :SYST:ERR?
? 2
> :SYST:ERR?
? 2
> :SOUR:CURR 1.2
> :SYST:ERR?
? 2
> :SENS:VOLT:NPLC 10
> :READ?
? 2
t
EOF
check "TCP: 2400 *IDN?" test "$(nth 1)" = 'KEITHLEY INSTRUMENTS INC.,MODEL 2400,4117720,C32 Oct 4 2010 14:20:11/A02 /S/K insitu-sim'
check "READ? gives five elements ($(nth 2))" test "$(nth 2 | tr ',' '\n' | wc -l)" = 5
check "READ? in %+.6E form" grep -qE '^[+-][0-9]\.[0-9]{6}E[+-][0-9]{2}(,[+-][0-9]\.[0-9]{6}E[+-][0-9]{2}){4}$' <(nth 2)
check "output off: open circuit near 0 V" fcmp "$(field 2 1 | tr -d +)" '<' 0.005
check "output off: no current" fcmp "$(field 2 2)" '==' 0
check "output off: resistance not measured (9.91e37)" fcmp "$(field 2 3)" '==' 9.91e37
check "OUTP? 1" test "$(nth 3)" = 1
check "+500 mA: positive voltage ($(field 4 1))" fcmp "$(field 4 1)" '>' 0.03
check "+500 mA: current reported" fcmp "$(field 4 2)" '==' 0.5
check "+500 mA: not in compliance" fcmp "$(field 4 5)" '==' 0
check "+500 mA: nucleation spike above 100 mV" fcmp "$(field 4 1)" '>' 0.1
check "-500 mA: negative voltage ($(field 5 1))" fcmp "$(field 5 1)" '<' -0.03
check "compliance: voltage held at the limit ($(field 6 1))" fcmp "$(field 6 1)" '<=' 0.0202
check "compliance: current below the set value ($(field 6 2))" fcmp "$(field 6 2)" '<' 0.5
check "compliance: status bit 3 (8) set" fcmp "$(field 6 5)" '==' 8
check "compliance: TRIP? 1" test "$(nth 7)" = 1
check "unknown SCPI queues -113" test "$(nth 8)" = '-113,"Undefined header"'
check "error queue then empty" test "$(nth 9)" = '0,"No error"'
check "1.2 A out of range: -222" test "$(nth 10)" = '-222,"Parameter data out of range"'
check "NPLC 10: a reading takes 200 ms ($(nth 12)s)" fcmp "$(nth 12)" '>=' 0.19

# a second client after the first: state persists, the clock runs 3600x
talk <<'EOF'
> :SENS:VOLT:PROT 2
> :SENS:VOLT:NPLC 1
> :SOUR:CURR 0.5
> :SYST:SIM:CLOCK 1000,3600
> :SYST:SIM:STATE?
? 2
. 1
> :SYST:SIM:STATE?
? 2
> :SYST:SIM:CLOCK 0,1
> :READ?
? 2
EOF
check "a second client is served" test -n "$(nth 1)"
q1=$(field 1 1); q2=$(field 2 1)
dq=$(python3 -c "print(($q2 - $q1) / 3600)")
check "speed 3600: 1 s real at 500 mA passes ~0.5 Ah (${dq} Ah)" fcmp "$dq" '>' 0.45
check "speed 3600: and not much more" fcmp "$dq" '<' 0.6
check "STATE? virtual time follows the clock ($(field 2 6))" fcmp "$(field 2 6)" '>' 4000
check "STATE? has six fields" test "$(nth 2 | tr ',' '\n' | wc -l)" = 6
check "metal moves from A to B" fcmp "$(field 2 2)" '<' "$(field 2 3)"
check "microstructure grows" fcmp "$(field 2 4)" '>' "$(field 1 4)"
check "no soft short at 0.5 Ah" test "$(field 2 5)" = 0
check "the plateau after 0.5 Ah is tens of mV ($(field 3 1))" fcmp "$(field 3 1)" '<' 0.08
stop_sim

# --- faults over TCP ---------------------------------------------------------------------
start_sim --fault stall=0.6+1 keithley2400:li-li
talk <<'EOF'
> *IDN?
? 1
. 0.8
> *IDN?
? 0.4
. 0.6
> *OPC?
? 1
EOF
check "stall: answers before" grep -q MODEL <(nth 1)
check "stall: no reply during the stall" test "$(nth 2)" = '<timeout>'
check "stall: replies after, and what came during it was discarded" test "$(nth 3)" = 1
stop_sim

start_sim keithley2400:li-li,disconnect=0.5
talk <<'EOF'
> *IDN?
? 1
eof 2
EOF
check "disconnect: answers before" grep -q MODEL <(nth 1)
check "disconnect: the connection is closed" test "$(nth 2)" = '<closed>'
talk <<'EOF'
> *OPC?
? 1
EOF
check "disconnect: a new client is accepted" test "$(nth 1)" = 1
stop_sim

# --- the man page ------------------------------------------------------------------------
MAN="$SHDIR/../../man/insitu-sim.1"
if command -v groff >/dev/null; then
    w=$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)
    check "groff renders insitu-sim.1 without warnings${w:+: $w}" test -z "$w"
else
    echo "skip - groff not installed"
fi
if command -v mandoc >/dev/null; then
    w=$(mandoc -Tlint -Wwarning "$MAN" 2>&1)
    check "mandoc -Tlint finds nothing in insitu-sim.1${w:+: $w}" test -z "$w"
fi
missing=
for p in $(awk '!/^#/ && NF { print $1 }' "$SHDIR/../../contrib/cells/li-li.cell"); do
    grep -q "^\.BR $p " "$MAN" || missing="$missing $p"
done
check "insitu-sim.1 lists every cell parameter${missing:+ (missing:$missing)}" test -z "$missing"
