# NMR datasets from disk: load, process as TopSpin does (checked against TopSpin's own 1r),
# export. Needs ../shared/data/bruker; says SKIP visibly without it.
. "$(dirname "$0")/lib.sh"
B="${INSITU_SHARED:-$SHDIR/../../../shared}/data/bruker"
if [ ! -d "$B" ]; then echo "skip - SKIP: $B not found (the TopSpin oracle needs ../shared)"; exit 0; fi
for d in "$B"/*/; do
    name=$(basename "$d")
    run -c "nmr load bruker $d; nmr process topspin; nmr export $name.csv; nmr export $name.jdx"
    expect_rc 0 "$name: load, process, export"
    r=$(sed -n 's/.*correlation with TopSpin.s 1r \([0-9.]*\).*/\1/p' "$T/.out")
    check "$name: correlation with TopSpin's 1r $r >= 0.9999" awk -v r="$r" 'BEGIN { exit !(r >= 0.9999) }'
    check "$name: CSV has the header and every point" bash -c "head -1 $name.csv | grep -q '^ppm,intensity$' && [ \$(wc -l < $name.csv) -gt 1000 ]"
    check "$name: JCAMP-DX has its header and end" bash -c "grep -q '^##DATA TYPE=NMR SPECTRUM' $name.jdx && tail -1 $name.jdx | grep -q '^##END='"
done
run -c "nmr load bruker $B/nmrium-1h-400; nmr process topspin; nmr export x.csv; nmr export x.csv"
expect_rc 1 "export refuses to overwrite"; expect_err "x.csv exists (-f replaces it)" "and says how"
run -c "nmr load bruker $T"
expect_rc 1 "a directory without a dataset"; expect_err "acqus" "names the missing file"
mkdir broken && cp "$B/nmrium-1h-400/acqus" broken/ && head -c 1000 "$B/nmrium-1h-400/fid" > broken/fid
run -c "nmr load bruker broken"
expect_rc 1 "a truncated fid is refused"
run -c "nmr process topspin"
expect_rc 1 "nothing to process"
