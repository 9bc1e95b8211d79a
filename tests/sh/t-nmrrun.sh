# The in-situ NMR series end to end: insitu-sim's cycler and spectrometer sharing one Li|Li cell,
# referencing, regions and peaks through a 15 h run, reprocessing, trend export, and a TopSpin
# series imported from disk.
. "$(dirname "$0")/lib.sh"
[ -x "${INSITU_SIM:-}" ] || { echo "skip - insitu-sim not built"; exit 0; }
export INSITU_SIM

# one value per line of VAR in group GROUP of run FILE
vals() { ncdump -v "$2" -g "$1" "$3" | awk -v v="$2" '/^ *data:/ { d = 1 } d && $1 == v && $2 == "=" { on = 1; sub(/^.*= */, "") } on { print } on && /;/ { exit }' | tr -d ' ;' | tr ',' '\n' | grep -v '^$'; }
# block means: N blocks of the values on stdin
blocks() { awk -v n="$1" '{ v[NR] = $1 } END { for (b = 0; b < n; b++) { s = 0; c = 0; for (i = int(b * NR / n) + 1; i <= int((b + 1) * NR / n); i++) { s += v[i]; c++ } print s / c } }'; }
decreasing() { awk 'NR > 1 && $1 >= p { bad = 1 } { p = $1 } END { exit bad }'; }
increasing() { awk 'NR > 1 && $1 <= p { bad = 1 } { p = $1 } END { exit bad }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# --- the series: 500 mA for 15 h, a spectrum after another ---------------------------------
cat > series.cmd <<'CMD'
set clock.speed 3600
set cycler.interval 60s
set cycler.limit.voltage -1V 1V
device add cyc keithley2400 sim:li-li
device add nmr nmrsim sim:li-li
set nmr.ns 64
set nmr.d1 1s
nmr reference LiCl
run start series cell="Li|LiPF6|Li"
nmr region add total 220ppm 310ppm
nmr peak add metal 245ppm 238ppm 252ppm
nmr peak add dendrite 265ppm 256ppm 276ppm
cycler start { cc 500mA until 15h }
nmr start
wait run 20h
CMD
run -x series.cmd
expect_rc 0 "a 15 h Li|Li run with a spectrum every ~70 s at speed 3600"
expect_out "LiCl (7Li -1.100 ppm) measured at" "the reference standard was measured"
f=$(runfile)
n=$(vals nmr integral_metal "$f" | wc -l)
check "spectra archived ($n)" test "$n" -gt 500
vals nmr integral_metal "$f" > metal
vals nmr integral_dendrite "$f" > dendrite
falls() { blocks 5 < "$1" | decreasing; }
rises() { blocks 5 < "$1" | increasing; }
check "the metal integral falls monotonically within noise (5 block means: $(blocks 5 < metal | tr '\n' ' '))" falls metal
check "the dendrite integral rises monotonically within noise (5 block means: $(blocks 5 < dendrite | tr '\n' ' '))" rises dendrite
m0=$(head -n 20 metal | median); m1=$(tail -n 20 metal | median)
check "the metal peak lost 20-60 % ($m0 -> $m1)" awk -v a="$m0" -v b="$m1" 'BEGIN { r = b / a; exit !(r > 0.4 && r < 0.8) }'
d0=$(sed -n "$((n / 4)),$((n / 4 + 20))p" dendrite | median); d1=$(tail -n 20 dendrite | median)
check "the dendrite peak grew more than 1.5x from a quarter to the end ($d0 -> $d1)" awk -v a="$d0" -v b="$d1" 'BEGIN { exit !(b > 1.5 * a) }'
pm=$(vals nmr position_metal "$f" | tail -n $((n / 2)) | median)
pd=$(vals nmr position_dendrite "$f" | tail -n $((n / 2)) | median)
check "metal fitted at $pm ppm, within 1 ppm of the simulator's 245" awk -v p="$pm" 'BEGIN { exit !(p > 244 && p < 246) }'
check "dendrite fitted at $pd ppm, within 1 ppm of the simulator's 265" awk -v p="$pd" 'BEGIN { exit !(p > 264 && p < 266) }'
q=$(vals nmr charge_end "$f" | tail -n 1)
check "the last spectrum ended at $q A h passed" awk -v q="$q" 'BEGIN { exit !(q > 7.3 && q <= 7.51) }'
ncdump -h "$f" > hdr
for a in 'double fid_re(time, fid_time)' 'double spectrum(time, ppm)' 'ppm:units = "ppm"' \
         ':nucleus = "7Li"' 'integral_metal_err' 'position_dendrite' ':SR = '; do
    check "group nmr has $a" grep -qF "$a" hdr
done

# --- a run to reprocess: regions added afterwards, trend export ------------------------------
cat > re.cmd <<'CMD'
set clock.speed 3600
device add nmr nmrsim sim:li-li
set nmr.ns 16
run start re
nmr start 20
nmr wait
nmr region add total 220ppm 310ppm
nmr status
nmr reprocess
nmr export-trend trend.csv
nmr export spec.csv
nmr export-trend trend.csv
run stop
CMD
run -k -x re.cmd
expect_rc 1 "reprocess script (the second export-trend refuses to overwrite)"
expect_out "series: 20 spectra" "nmr status counts the series"
expect_out "reprocessed" "nmr reprocess"
expect_err "trend.csv exists (-f replaces it)" "export-trend keeps an existing file"
check "trend.csv has a header and 20 rows" test "$(wc -l < trend.csv)" = 21
check "trend.csv has integral_total" grep -q '^time_s,charge_mAh,.*integral_total' trend.csv
check "integral_total was filled in by reprocess" sh -c '! cut -d, -f$(head -1 trend.csv | tr , "\n" | grep -nx integral_total | cut -d: -f1) trend.csv | grep -qi nan'
check "spec.csv is ppm, intensity" sh -c 'head -1 spec.csv | grep -qx "ppm,intensity" && test $(wc -l < spec.csv) -gt 4000'

# --- errors are clear -------------------------------------------------------------------------
run -c 'nmr start'
expect_rc 1 "nmr start without a run"; expect_err "no active run" "says so"
run -k -c 'run start x; nmr start; run stop'
expect_rc 1 "nmr start without a spectrometer"; expect_err "no spectrometer" "says so"
run -c 'nmr region add a 1ppm 1ppm'
expect_rc 1 "an empty region"; expect_err "two different limits" "says so"
run -c 'nmr peak add m 245ppm 250ppm 260ppm'
expect_rc 1 "a peak outside its range"; expect_err "must lie inside its range" "says so"
run -c 'nmr peak add m 245ppm shape=square'
expect_rc 1 "an unknown line shape"; expect_err "shapes are pvoigt, voigt, lorentz, gauss" "says so"
run -c 'nmr region add m 245mV 250ppm'
expect_rc 1 "a region in volts"; expect_err "245mV" "names the word"
run -c 'nmr reference KBr'
expect_rc 1 "an unknown standard"; expect_err "no such standard (NaCl, LiCl" "lists the standards"
run -c 'nmr reference NaCl'
expect_rc 1 "a 23Na standard for 7Li"; expect_err "NaCl is a 23Na standard, but nmr.nucleus is 7Li" "says so"
run -c 'nmr standard KBr 79Br 0ppm; nmr standard'
expect_rc 0 "a standard added"; expect_out "KBr" "and listed"
run -c 'device add nmr topspin dir:/nonexistent/series'
expect_rc 1 "a TopSpin directory that is not there"; expect_err "/nonexistent/series" "names it"
run -k -c 'device add nmr nmrsim sim:li-li; run start a; nmr start 2 nmr; nmr wait; set nmr.td 8192; run stop'
expect_rc 1 "TD cannot change under a series"; expect_err "fixed" "says why"

# --- 23Na --------------------------------------------------------------------------------------
cat > na.cmd <<'CMD'
set clock.speed 3600
device add nmr nmrsim sim:na-na
set nmr.nucleus 23Na
set nmr.o1 90kHz
set nmr.ns 16
nmr reference NaCl
run start na
nmr peak add metal 1135ppm 1128ppm 1140ppm
nmr start 3
nmr wait
nmr status
run stop
CMD
run -x na.cmd
expect_rc 0 "a 23Na series"
expect_out "NaCl (23Na 7.210 ppm) measured at" "referenced with NaCl"
expect_out "series: 3 spectra" "three spectra"
pos=$(echo "$out" | sed -n 's/.*peak   metal .*last fit \([0-9.]*\) .*/\1/p')
check "sodium metal fitted at $pos ppm (1135)" awk -v p="$pos" 'BEGIN { exit !(p > 1134 && p < 1136) }'

# --- a TopSpin series on disk -----------------------------------------------------------------
B=${INSITU_SHARED:-}/data/bruker/nmrium-1h-400
if [ ! -d "$B" ]; then
    echo "skip - SKIP: $B not found (the TopSpin import needs ../shared)"
else
    for e in 1 2 10; do mkdir -p series/$e; cp "$B/acqus" "$B/fid" series/$e/; done
    for e in 1 2 10; do
        s=$((e * 5)); en=$((s + 1))
        cat > series/$e/audita.txt <<AUD
##TITLE= Audit trail, TOPSPIN		Version 3.2
##JCAMPDX= 5.01
##ORIGIN= Bruker BioSpin GmbH
##OWNER= nmr
\$\$ /data/series/$e/audita.txt
##AUDIT TRAIL=  \$\$ (NUMBER, WHEN, WHO, WHERE, PROCESS, VERSION, WHAT)
(   1,<2015-12-03 10:$(printf %02d $en):00.000 +0100>,<nmr>,<host>,<go>,<TOPSPIN 3.2>,
      <created by zg
	started at 2015-12-03 10:$(printf %02d $s):00.000 +0100,
	POWCHK enabled>)
##END=
AUD
    done
    mkdir -p series/11 series/junk
    cp "$B/acqus" series/11/   # TopSpin made it, but has not acquired into it
    run -k -c 'nmr import topspin series ts; nmr peak add p 7.26ppm 7.1ppm 7.4ppm; nmr reprocess; nmr export-trend ts.csv; run stop'
    expect_rc 0 "nmr import topspin"
    expect_out "3 experiments imported" "three finished experiments (11 not yet acquired, junk ignored)"
    f=$(ls "$RUNS"/*-ts.nc)
    check "expnos in order" test "$(vals nmr expno "$f" | tr '\n' ' ')" = "1 2 10 "
    check "times from audita.txt (0, 300, 2700 s)" test "$(vals nmr time "$f" | tr '\n' ' ')" = "0 300 2700 "
    check "the run starts at the first acquisition" sh -c "ncdump -h '$f' | grep -q 'seconds since 2015-12-03T09:05:00'"
    check "a fitted peak per spectrum" test "$(tail -n +2 ts.csv | wc -l)" = 3
    run -c 'nmr import topspin /nonexistent/x'
    expect_rc 1 "an import from nowhere"; expect_err "/nonexistent/x" "names it"
    mkdir empty
    run -c 'nmr import topspin empty'
    expect_rc 1 "an empty series"; expect_err "no finished experiment" "says so"
fi

# --- following TopSpin while it acquires ---------------------------------------------------------
if [ -d "$B" ]; then
    mkdir -p live
    cat > follow.cmd <<'CMD'
set nmr.topspin.poll 0.2s
device add nmr topspin dir:live
run start live
nmr start 2
nmr wait 60s
run stop
CMD
    # TopSpin at work: expno 1 appears finished after the run started, expno 2 is created
    # empty first (as TopSpin does) and acquired into a little later
    ( sleep 1
      mkdir -p live/1 live/2; cp "$B/acqus" "$B/fid" live/1/
      now=$(date -u +'%Y-%m-%d %H:%M:%S.000 +0000')
      printf '##TITLE= Audit trail\n##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, PROCESS, VERSION, WHAT)\n(   1,<%s>,<nmr>,<host>,<go>,<TOPSPIN 3.2>,\n      <created by zg\n\tstarted at %s>)\n##END=\n' "$now" "$now" > live/1/audita.txt
      cp "$B/acqus" live/2/
      sleep 1
      cp "$B/fid" live/2/
      printf '##TITLE= Audit trail\n##AUDIT TRAIL=  $$ (NUMBER, WHEN, WHO, WHERE, PROCESS, VERSION, WHAT)\n(   1,<%s>,<nmr>,<host>,<go>,<TOPSPIN 3.2>,\n      <created by zg\n\tstarted at %s>)\n##END=\n' "$(date -u +'%Y-%m-%d %H:%M:%S.000 +0000')" "$now" > live/2/audita.txt
    ) &
    run -x follow.cmd
    wait
    expect_rc 0 "following a TopSpin series as it is acquired"
    expect_err "nmr: following nmr" "the driver follows the directory"
    expect_err "acquisition ended (all spectra taken): 2 spectra" "both experiments taken as they finished"
    f=$(ls "$RUNS"/*-live.nc)
    check "expnos 1 and 2 in the run" test "$(vals nmr expno "$f" | tr '\n' ' ')" = "1 2 "
fi
