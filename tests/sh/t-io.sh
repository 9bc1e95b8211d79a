# Files of other programs: `import mpt` of EC-Lab text exports (tests/data) into run files, and
# `export bdf` of a run's ec group as Battery Data Format CSV, checked value by value.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$SHDIR/../.." && pwd)
D="$ROOT/tests/data"
export TZ=UTC       # the acquisition start in the files is local time
nruns() { ls "$RUNS" 2>/dev/null | wc -l; }

# A galvanostatic file: the ec group has one record per row
run -c "import mpt $D/gcpl.mpt"
expect_rc 0 "import mpt of a GCPL file"
f="$RUNS/20230412T140822Z-gcpl.nc"
expect_out "imported 20 records from $D/gcpl.mpt: $f" "import prints the record count and the file"
check "the run starts at the file's acquisition start" test -f "$f"
check "no journal after the import" test ! -e "$f.journal"
run -c "archive info $f"
expect_out "run: gcpl (complete)" "archive info: a complete run"
expect_out "group ec: 20 records" "archive info: group ec with 20 records"
expect_out "eclab_technique: Galvanostatic Cycling with Potential Limitation" "the technique is kept"
expect_out "imported_from: $D/gcpl.mpt" "the source file is kept"
expect_out "charge(time) A h" "charge in A h"

# BDF export, compared with the .mpt itself: time, Ewe, I (mA -> A), (Q-Qo) (mA.h -> A h)
run -c "export bdf $f out.csv"
expect_rc 0 "export bdf"
expect_out "exported 20 records of $f: out.csv" "export prints what it wrote"
check "BDF header" test "$(head -n 1 out.csv)" = "Test Time / s,Voltage / V,Current / A,Unix Time / s,Cycle Count / 1,Step Count / 1,Net Capacity / Ah,Charging Capacity / Ah,Discharging Capacity / Ah"
check "one row per record" test "$(wc -l < out.csv)" = 21
cmp_mpt() { # cmp_mpt MPT CSV: every data row matches (relative 1e-9)
    awk -F'\t' -v csv="$2" '
        function near(a, b) { d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); return d <= 1e-9 * m + 1e-15 }
        BEGIN { getline header < csv }
        FNR == 2 { split($0, h, ":"); nh = h[2] + 0 }
        FNR <= 2 || FNR <= nh { next }
        { gsub(/\r/, ""); gsub(/,/, ".")
          if ((getline line < csv) <= 0) { print "csv ends early"; bad = 1; exit }
          split(line, c, ",")
          if (!near(c[1], $8) || !near(c[2], $10) || !near(c[3], $11 / 1000) || !near(c[7], $13 / 1000) ||
              c[5] != $17 + 0 || c[6] != $7 + 1) { print "row " FNR ": " line; bad = 1 }
          n++ }
        END { if (n != 20) { print n " rows"; bad = 1 }; exit bad }' "$1"
}
check "every CSV row matches the .mpt (time, Ewe, I/1000, (Q-Qo)/1000, cycle, Ns+1)" cmp_mpt "$D/gcpl.mpt" out.csv
check "Unix Time is the acquisition start plus the time" awk -F, 'NR == 2 && $4 == "1681308502.000" { ok = 1 } NR == 3 && $4 == "1681308562.000" { ok++ } END { exit ok != 2 }' out.csv
check "charging capacity restarts with each half cycle" awk -F, '$1 == 300 && $8 == 0 && $9 > 1.66e-6 && $9 < 1.67e-6 { ok = 1 } END { exit !ok }' out.csv

# Never over an existing file without -f
sum=$(cksum < out.csv); echo junk > other.csv
run -c "export bdf $f other.csv"
expect_rc 1 "export over an existing file is refused"
expect_err "export bdf: other.csv exists (-f replaces it)" "and says why"
check "the existing file is untouched" test "$(cat other.csv)" = junk
run -c "export bdf -f $f other.csv"
expect_rc 0 "export -f replaces it"
check "with the same content as a fresh export" test "$(cksum < other.csv)" = "$sum"
run -c "export bdf -f $f $f"
expect_rc 1 "export onto the run file itself is refused"
run -c "export bdf $T/nope.nc new.csv"
expect_rc 1 "export of a missing run file fails"
check "and leaves no output behind" test ! -e new.csv
run -c "export bdf -x $f new.csv"
expect_rc 1 "an unknown option is an error"
cp "$f" copy.nc; sum=$(cksum < copy.nc)
run -c "run start y; run stop; export bdf -f copy.nc"
expect_err "copy.nc: that is a run file's name; the CSV file comes last" "a forgotten OUT does not turn a run file into CSV"
check "the run file is untouched" test "$(cksum < copy.nc)" = "$sum"

# Decimal comma, CRLF, Latin-1: the same numbers; an explicit NAME
run -c "import mpt $D/gcpl-comma.mpt comma"
expect_rc 0 "import of a decimal-comma CRLF file"
run -c "export bdf $RUNS/20230412T140822Z-comma.nc comma.csv"
check "the same values as the decimal-point file" test "$(cut -d, -f1-3,5- comma.csv)" = "$(cut -d, -f1-3,5- out.csv)"
check "with the start's fraction of a second" awk -F, 'NR == 2 { exit $4 != "1681308502.250" }' comma.csv

# Impedance: the group eis, Z'' = -(-Im(Z))
run -c "import mpt $D/peis.mpt"
expect_rc 0 "import of a PEIS file"
run -c "archive info $RUNS/20230412T140822Z-peis.nc"
expect_out "group eis: 7 records" "archive info: group eis with 7 records"
expect_out "group ec: 7 records" "and an ec record per point"
z=$(ncdump -v z_imag "$RUNS/20230412T140822Z-peis.nc" | sed -n '/z_imag = /,/;/p' | tr -d ' \n;' | sed 's/.*=//')
check "z_imag is minus the file's -Im(Z) ($z)" test "${z%%,*}" = -1.5815342

# Without the header (no acquisition start): the run starts at the file's modification time
cp "$D/noheader.mpt" "EC Lab 1.mpt"
touch -d '2023-11-14 22:13:20' "EC Lab 1.mpt"
run -c "import mpt 'EC Lab 1.mpt'"
expect_rc 0 "import of a file without header"
expect_out "imported 20 records from EC Lab 1.mpt: $RUNS/20231114T221320Z-EC_Lab_1.nc" "named after the file, starting at its mtime"

# Recovered problems are warnings; the import goes on
run -c "import mpt $D/bad-count.mpt"
expect_rc 0 "a wrong header line count is recovered"
expect_err "warning: import mpt: $D/bad-count.mpt:2: the header says 40 lines, but the column names are on line 54" "with a warning naming the line"
run -c "import mpt $D/ragged.mpt"
expect_rc 0 "ragged rows and a cut last row are recovered"
expect_out "imported 19 records" "the cut row is left out"
expect_err "ragged.mpt:74: the last row has 9 of 18 cells" "and named"

# Broken files: a clear error with file and line, exit 1, no run file
n0=$(nruns)
run -c "import mpt $D/bad-cell.mpt"
expect_rc 1 "a non-numeric cell fails"
expect_err "import mpt: $D/bad-cell.mpt:61: column 10 (Ewe/V): \"3.1x\" is not a number" "with file, line and column"
run -c "import mpt $D/bad-truncated.mpt"
expect_rc 1 "a file cut inside its header fails"
expect_err "bad-truncated.mpt:2: the header has 54 lines but the file ends at line 31 (truncated?)" "and says so"
run -c "import mpt $D/not-mpt.txt x"
expect_rc 1 "a file that is no .mpt fails"
expect_err "not-mpt.txt:1: not an EC-Lab text export" "and says so"
run -c "import mpt $T/missing.mpt"
expect_rc 1 "a missing file fails"
expect_err "import mpt: $T/missing.mpt: cannot read: No such file or directory" "with the reason"
run -c "import mpt $D"
expect_rc 1 "a directory fails"
run -c "import mpt $D/gcpl.mpt 1bad"
expect_rc 1 "an invalid run name fails"
expect_err "\"1bad\": not a run name" "and says why"
run -c "import mpt $D/gcpl.mpt"
expect_rc 1 "importing into an existing run file fails"
expect_err "it exists (a run is never overwritten)" "the first import is kept"
check "no run file made by the failures" test "$(nruns)" = "$n0"
printf 'echo first\nimport mpt %s/bad-cell.mpt\n' "$D" > s.cmd
run -x s.cmd
expect_err "s.cmd:2: import mpt: $D/bad-cell.mpt:61:" "from a script: the script's line and the file's"

# An import does not disturb the active run; export without RUNFILE uses the active or last run
run -c "run start act; import mpt $D/gcpl.mpt imp2; record x 1V; run status; run stop; export bdf last.csv"
expect_out "imported 20 records from $D/gcpl.mpt: $RUNS/20230412T140822Z-imp2.nc" "import during a run"
check "run status: the active run is still act" awk '/^run act$/ { getline; ok = /file: .*-act\.nc$/ } END { exit !ok }' "$T/.out"
expect_out "run act stopped" "and stopped normally"
expect_err "-act.nc: no ec group" "export without RUNFILE takes the last run"
run -c "export bdf last.csv"
expect_rc 1 "export without RUNFILE and no run"
expect_err "no run file given and no run in this session" "says so"
"$INSITU" -c "run start act2; export bdf live.csv" </dev/null >o 2>e &
pid=$!
sleep 1
kill -TERM $pid 2>/dev/null; wait $pid
check "export during a run reads the active run's file" grep -q -- "-act2.nc: no ec group" e
