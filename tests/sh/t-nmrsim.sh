# insitu-sim's NMR spectrometer (nmrsim): its protocol over stdio, the acquisition on the
# virtual clock, the FID as a binary block, and the cell it shares with a simulated Keithley
# through the state file (also the one insitu's sim: transport sets up).
. "$(dirname "$0")/lib.sh"
: "${INSITU_SIM:?INSITU_SIM must point at the insitu-sim binary}"
SIM=$INSITU_SIM
export LC_ALL=C     # bytes are characters: `read -N` counts bytes

# fcmp A OP B: floating-point comparison (OP one of < > <= >= ==)
fcmp() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }
# kv KEY: the value of KEY in the key=value,... reply
kv() { printf '%s\n' "$reply" | tr ',' '\n' | sed -n "s/^$1=//p"; }

# The spectrometer as a coprocess: send LINE; ask LINE (sets $reply, the next line).
start_nmr() {
    coproc NMR { exec "$SIM" --stdio "$@" 2>"$T/nmr.err"; }
}
send() { printf '%s\n' "$1" >&"${NMR[1]}"; }
ask() {
    send "$1"
    IFS= read -r -t 5 reply <&"${NMR[0]}" || reply='<timeout>'
}
# fid FILE: FID? with the block's bytes into FILE; sets $hdr ("#<d><len>") and $blen
fid() {
    local c d len nl
    send 'FID?'
    hdr='<timeout>'; blen=-1
    IFS= read -r -N 1 -t 5 c <&"${NMR[0]}" || return 1
    IFS= read -r -N 1 -t 5 d <&"${NMR[0]}" || return 1
    case $d in [1-9]) ;; *) hdr="$c$d"; return 1 ;; esac
    IFS= read -r -N "$d" -t 5 len <&"${NMR[0]}" || return 1
    hdr="$c$d$len"
    dd bs=1 count="$len" status=none <&"${NMR[0]}" >"$1"    # byte by byte: exact
    IFS= read -r -N 1 -t 5 nl <&"${NMR[0]}"
    [ "$nl" = $'\n' ] && blen=$(wc -c <"$1")
}
# wait_done: STAT? until DONE (at most ~5 s); sets $reply
wait_done() {
    for _ in $(seq 250); do
        ask 'STAT?'
        [ "$reply" = DONE ] && return 0
        sleep 0.02
    done
    return 1
}
stop_nmr() {
    local pid=$NMR_PID
    eval "exec ${NMR[1]}>&-"
    wait "$pid" 2>/dev/null
    check "the spectrometer said nothing on stderr$(head -c 300 "$T/nmr.err")" test ! -s "$T/nmr.err"
}

# --- usage -------------------------------------------------------------------------------
"$SIM" --help >"$T/o" 2>&1
check "--help lists nmrsim" grep -q '^drivers:.* nmrsim' "$T/o"
check "--help lists nmrsim's options" grep -q '^nmrsim .*field_error=.*q_shade=' "$T/o"
"$SIM" --stdio nmrsim:li-li,phase=x </dev/null >"$T/o" 2>"$T/e"; rc=$?
check "bad nmrsim option: exit 2 ($rc)" test "$rc" = 2
check "bad nmrsim option: says why" grep -qF 'phase=x: not a number' "$T/e"
"$SIM" --stdio nmrsim:li-li,match=2 </dev/null >"$T/o" 2>"$T/e"; rc=$?
check "match=2 refused" grep -qF 'match=2: match 2: must be in [0, 1]' "$T/e"

# --- settings ----------------------------------------------------------------------------
start_nmr nmrsim:li-li
ask '*IDN?'
check "*IDN? ($reply)" grep -qE '^insitu,NMRSIM,[^,]+,[0-9.]+$' <<<"$reply"
ask 'NUC?';   check "*RST nucleus of a Li|Li cell is 7Li ($reply)" test "$reply" = 7Li
ask 'FIELD?'; check "field 7.05 T ($reply)" fcmp "$reply" == 7.05
ask 'BF1?'
check "BF1 = 0.38863797 x 42.577478 x 7.05 MHz, 8 decimals ($reply)" test "$reply" = 116.65793355
ask 'SFO1?';  check "SFO1 = BF1 with O1 0 ($reply)" test "$reply" = 116.65793355
send 'O1 2000'
ask 'O1?';    check "O1 set ($reply)" fcmp "$reply" == 2000
ask 'SFO1?';  check "SFO1 = BF1 + O1 ($reply)" test "$reply" = 116.65993355
for q in 'SW 100000|SW?|100000' 'TD 8192|TD?|8192' 'NS 16|NS?|16' 'D1 0.1|D1?|0.1' \
         'RG 64|RG?|64' 'P1 5|P1?|5' 'DE 10|DE?|10'; do
    IFS='|' read -r set get want <<<"$q"
    send "$set"; ask "$get"
    check "$set -> $get $reply" fcmp "$reply" == "$want"
done
send 'nuc 23na'
ask 'nucleus?'; check "NUC 23na, long form nucleus? ($reply)" test "$reply" = 23Na
ask 'BF1?';     check "23Na BF1 ($reply)" test "$reply" = 79.40099092
for q in 'TD 4095|-224' 'TD 10|-222' 'TD 2000000|-222' 'NS 0|-222' 'NS 1.5|-224' \
         'SW 10|-222' 'SW 6e6|-222' 'FIELD abc|-104' 'NUC 9Xx|-224' 'ZGX|-113' \
         'O1|-109' ':SYST:SIM:MATCH 1.5|-222' ':SYST:SIM:SAMPLE WATER|-224'; do
    IFS='|' read -r bad code <<<"$q"
    send "$bad"; ask 'SYST:ERR?'
    check "$bad: $code ($reply)" test "${reply%%,*}" = "$code"
done
ask 'SYST:ERR?'; check "then the queue is empty ($reply)" test "$reply" = '0,"No error"'
send '*RST'
ask 'TD?'; check "*RST: TD 4096 ($reply)" test "$reply" = 4096
ask 'NUC?'; check "*RST: 7Li again ($reply)" test "$reply" = 7Li

# --- acquisition -------------------------------------------------------------------------
fid "$T/none.bin"
check "FID? before any acquisition: the empty block ($hdr)" test "$hdr" = '#10' -a "$blen" = 0
ask 'SYST:ERR?'; check "and -230 ($reply)" test "$reply" = '-230,"Data corrupt or stale"'
ask 'STAT?';  check "STAT? IDLE ($reply)" test "$reply" = IDLE
ask 'PARS?';  check "PARS? before: NS=0 ($reply)" test "$(kv NS)" = 0
send ':SYST:SIM:CLOCK 0,1'
send 'ZG;ZG'
ask 'SYST:ERR?'; check "ZG while acquiring: -200 ($reply)" test "$reply" = '-200,"Execution error"'
ask 'STAT?';  check "STAT? ACQ 0,64 at speed 1 ($reply)" test "$reply" = 'ACQ 0,64'
send 'HALT'
ask 'STAT?';  check "HALT before the first scan keeps nothing ($reply)" test "$reply" = IDLE
send 'NS 16'
send ':SYST:SIM:CLOCK 100,1000000'
send 'ZG'
wait_done; check "ZG at speed 1e6: DONE ($reply)" test "$reply" = DONE
ask 'PARS?'
pars=$reply
check "PARS? keys in order ($pars)" grep -qE '^NUC=7Li,BF1=116\.65793355,SFO1=116\.65793355,O1=0,SW=200000,TD=4096,NS=16,D1=0\.5,RG=32,P1=2\.5,DE=6\.5,DIGMOD=1,GRPDLY=76,DSPFVS=20,DECIM=[0-9]+,TSTART=[0-9.e+]+,TEND=[0-9.e+]+$' <<<"$pars"
dur=$(awk -v a="$(kv TSTART)" -v b="$(kv TEND)" 'BEGIN { print b - a }')
check "TEND - TSTART = NS (D1 + AQ + P1) = 16 x 0.5102425 s ($dur)" \
    fcmp "$dur" '>' 8.16378 && fcmp "$dur" '<' 8.16398
check "TSTART on the virtual clock ($(kv TSTART))" fcmp "$(kv TSTART)" '>=' 100
fid "$T/fid.bin"
check "FID? header #532768 ($hdr)" test "$hdr" = '#532768'
check "FID? block: TD x 8 bytes ($blen)" test "$blen" = 32768
nz=$(od -A n -t f8 -v "$T/fid.bin" | tr -s ' ' '\n' | awk 'NF && $1 != 0 && $1 != -0' | wc -l)
check "FID? holds data ($nz non-zero values of 4096)" test "$nz" -gt 3000
ask '*OPC?'; check "the line after the block is in step ($reply)" test "$reply" = 1
ask 'STAT?'; check "STAT? stays DONE ($reply)" test "$reply" = DONE

# HALT keeps the scans done so far
send 'NS 100000'
send ':SYST:SIM:CLOCK 0,1000'
send 'ZG'
sleep 0.3
ask 'STAT?'; check "long acquisition running ($reply)" grep -qE '^ACQ [1-9][0-9]*,100000$' <<<"$reply"
send 'HALT'
ask 'STAT?'; check "HALT: DONE ($reply)" test "$reply" = DONE
ask 'PARS?'
check "HALT: the FID has the scans done ($(kv NS))" fcmp "$(kv NS)" '>' 100 && fcmp "$(kv NS)" '<' 100000
fid "$T/halt.bin"
check "HALT: a full block ($blen)" test "$blen" = 32768
stop_nmr

# --- the cell through the state file -------------------------------------------------------
ST=$T/state
start_nmr "nmrsim:li-li,state=$ST"
ask ':SYST:SIM:STATE?'
check "no state file: a fresh cell ($(kv cell))" test "$(kv cell)" = fresh
check "fresh cell: no microstructure ($(kv micro_area))" fcmp "$(kv micro_area)" == 0
metal0=$(kv metal_area)
check "STATE? has the lines' shifts ($(kv metal_ppm), $(kv micro_ppm), $(kv electrolyte_ppm))" \
    test "$(kv metal_ppm)" = 245 -a "$(kv micro_ppm)" = 265 -a "$(kv electrolyte_ppm)" = -1
# a 2400 passes 500 mA for an hour (a second at speed 3600), publishing its cell
keithley() {
    { printf ':SOUR:FUNC CURR\n:SOUR:CURR 0.5\n:SENS:VOLT:PROT 2\n:OUTP 1\n:SYST:SIM:CLOCK 0,3600\n'
      sleep 1; printf ':READ?\n'; } |
        "$SIM" --stdio "keithley2400:li-li,state=$ST" >"$T/k.out" 2>"$T/k.err"
}
keithley
check "the Keithley wrote the state file" grep -q '^writer keithley2400$' "$ST"
check "state file: virtual time, current, cell" grep -q '^time 3[0-9][0-9][0-9]\.' "$ST"
check "state file: the cell's parameters" grep -q '^cell.skin_depth 1.4e-05 m$' "$ST"
check "state file: output off at exit (current 0)" grep -q '^current 0$' "$ST"
ask ':SYST:SIM:STATE?'
check "the spectrometer sees the Keithley's cell ($(kv cell))" test "$(kv cell)" = file
check "charge passed: ~1800 C ($(kv charge_C))" fcmp "$(kv charge_C)" '>' 1700
micro1=$(kv micro_area)
check "microstructure grew ($micro1)" fcmp "$micro1" '>' 0
check "the bulk peak fell ($(kv metal_area) < $metal0)" fcmp "$(kv metal_area)" '<' "$metal0"
keithley     # a new cycler: a fresh cell, another hour
ask ':SYST:SIM:STATE?'
r=$(awk -v a="$(kv micro_area)" -v b="$micro1" 'BEGIN { print a / b }')
check "a second cycler starts from a fresh cell: the same microstructure ($r x)" \
    fcmp "$r" '>' 0.9 && fcmp "$r" '<' 1.1
# the cell while the cycler is still at it: the Keithley publishes as it goes
{ printf ':SOUR:FUNC CURR\n:SOUR:CURR 0.5\n:SENS:VOLT:PROT 2\n:OUTP 1\n:SYST:SIM:CLOCK 0,3600\n'
  for _ in 1 2 3 4 5 6; do sleep 0.25; printf ':READ?\n'; done; } |
    "$SIM" --stdio "keithley2400:li-li,state=$ST" >"$T/k.out" 2>"$T/k.err" &
kpid=$!
for _ in $(seq 100); do   # until the output is on (the Keithley publishes at once)
    cur=$(sed -n 's/^current //p' "$ST" 2>/dev/null)
    [ "$cur" = 0.5 ] && break
    sleep 0.03
done
ask ':SYST:SIM:STATE?'; ma=$(kv micro_area)
sleep 0.7
ask ':SYST:SIM:STATE?'; mb=$(kv micro_area)
wait "$kpid"
check "live: the microstructure grows while the current flows ($ma -> $mb)" fcmp "$mb" '>' "$ma"
check "live: the state file says the current flowing ($cur)" fcmp "$cur" == 0.5
# an acquisition of the coupled cell
send ':SYST:SIM:CLOCK 4000,1000000'
send 'ZG'
wait_done; check "ZG on the coupled cell: DONE ($reply)" test "$reply" = DONE
fid "$T/cell.bin"
check "coupled FID: a full block ($blen)" test "$blen" = 32768
# the match: the command, then a tuner's key in the file (the latest change wins)
ask ':SYST:SIM:STATE?'; full=$(kv metal_area)
send ':SYST:SIM:MATCH 0.5'
ask ':SYST:SIM:STATE?'
check "MATCH 0.5 halves the signal ($(kv metal_area) vs $full)" \
    fcmp "$(awk -v a="$(kv metal_area)" -v b="$full" 'BEGIN { print a / b }')" == 0.5
echo 'match 0.25' >>"$ST"
ask ':SYST:SIM:STATE?'
check "the state file's match (a tuner) wins when it changes ($(kv match))" test "$(kv match)" = 0.25
ask ':SYST:SIM:MATCH?'; check "and is what MATCH? says ($reply)" fcmp "$reply" == 0.25
keithley
check "the Keithley keeps the tuner's key" grep -q '^match 0.25$' "$ST"
# reference standards
send ':SYST:SIM:SAMPLE NACL'
send 'NUC 23Na'
ask ':SYST:SIM:SAMPLE?'; check "SAMPLE? NACL ($reply)" test "$reply" = NACL
ask ':SYST:SIM:STATE?'
check "NaCl in the probe: its line at 7.21 ppm ($(kv NaCl_ppm))" test "$(kv NaCl_ppm)" = 7.21
check "NaCl in the probe: no cell lines" test -z "$(kv metal_area)"
stop_nmr

# --- insitu's sim: transport gives every simulator of a session one state file ------------
if [ -n "${INSITU:-}" ] && [ -x "$INSITU" ]; then
    mkdir -p "$T/run"
    cat >"$T/wrap-sim" <<EOF
#!/bin/sh
echo "\$INSITU_SIM_STATE" >>"$T/seen-state"
( for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
    [ -f "\$INSITU_SIM_STATE" ] && { echo yes >>"$T/seen-file"; exit; }; sleep 0.1
  done ) </dev/null >/dev/null 2>&1 &   # not on the simulator's socket
exec "$SIM" "\$@"
EOF
    chmod +x "$T/wrap-sim"
    XDG_RUNTIME_DIR=$T/run INSITU_SIM=$T/wrap-sim \
        run -c 'device add cyc keithley2400 sim:li-li; wait 2s'
    expect_rc 0 "insitu with a simulated Keithley"
    p=$(head -n 1 "$T/seen-state" 2>/dev/null)
    check "insitu sets INSITU_SIM_STATE for the simulator ($p)" \
        grep -qE "^$T/run/insitu-sim-[0-9]+\.state\$" <<<"$p"
    check "the simulator published there while insitu ran" grep -q yes "$T/seen-file"
    check "insitu removes its state file when the last simulator is gone" test ! -e "$p"
    rm -f "$T/seen-state"
    XDG_RUNTIME_DIR=$T/run INSITU_SIM_STATE=$T/mine INSITU_SIM=$T/wrap-sim \
        run -c 'device add cyc keithley2400 sim:li-li'
    check "a state file the user set is passed on ($(cat "$T/seen-state"))" \
        test "$(cat "$T/seen-state")" = "$T/mine"
    check "and left in place" test -f "$T/mine"
fi
