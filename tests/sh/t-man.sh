# The man pages: they render without a single warning, and insitu(1) lists every command usage
# line of `help` and every setting of `show`, so that the page cannot fall behind the tables.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"

PAGES="$ROOT/man/insitu.1 $ROOT/man/insitu-archive.5"
for p in $PAGES; do
    check "$(basename "$p") exists" test -s "$p"
done

# Rendering: groff with every warning turned on; mandoc's lint too when it is installed.
if command -v groff >/dev/null; then
    for p in $PAGES; do
        w=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
        if [ -z "$w" ]; then ok "groff renders $(basename "$p") without warnings"
        else nok "groff warns on $(basename "$p"): $(echo "$w" | head -n 5)"; fi
    done
else
    echo "skip - groff not installed: man pages not rendered"
fi
if command -v mandoc >/dev/null; then
    for p in $PAGES; do
        w=$(mandoc -Tlint -Wwarning "$p" 2>&1)
        if [ -z "$w" ]; then ok "mandoc -Tlint finds nothing in $(basename "$p")"
        else nok "mandoc -Tlint on $(basename "$p"): $(echo "$w" | head -n 5)"; fi
    done
else
    echo "skip - mandoc not installed: no lint"
fi

# insitu(1) as a reader sees it: section headings at the margin, tags of tagged paragraphs on
# lines of their own after one blank (or followed by their text), blanks squeezed. Without groff,
# the same built from the source with the font and character escapes taken out.
if command -v groff >/dev/null; then
    groff -man -Tascii -P-c -P-b -P-u -rLL=2000n "$ROOT/man/insitu.1" 2>/dev/null
else
    awk '/^\.SH /{ h = substr($0, 5); gsub(/"/, "", h); print h; next }
         tp { sub(/^\.B[IR]* /, ""); gsub(/"/, ""); print " " $0; tp = 0; next }
         /^\.TP/ { tp = 1 }' "$ROOT/man/insitu.1" |
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' -e 's/\\|//g'
fi | tr -s ' \t' '  ' > page.txt
# in_section SECTION TEXT: TEXT is a tag (or starts a tagged line) in SECTION of insitu(1)
in_section() {
    awk -v sec="$1" -v want=" $(printf '%s' "$2" | tr -s ' \t' '  ')" '
        /^[^ ]/ { cur = $0; next }
        cur == sec && (index($0, want " ") == 1 || $0 == want) { found = 1 }
        END { exit !found }' page.txt
}
check "insitu.1 has a COMMANDS section" grep -qx COMMANDS page.txt
check "insitu.1 has a SETTINGS section" grep -qx SETTINGS page.txt

# Every usage line, as a tag in COMMANDS: `help NAME` gives the exact usage of each command (also those longer than
# the column of the overview), and every line of the overview must begin with one of them.
"$INSITU" -n -c help >help.txt 2>help.err
check "help runs" test -s help.txt
sed -n 's/^  \([^ ][^ ]*\) .*/\1/p' help.txt | awk '!seen[$0]++' > names.txt
: > usages.txt
while read -r name; do
    "$INSITU" -n -c "help '$name'" 2>/dev/null | sed -n 's/^usage: //p' >> usages.txt
done < names.txt
awk '!seen[$0]++' usages.txt > usages.u && mv usages.u usages.txt
n=$(wc -l < usages.txt)
check "help lists commands ($n usage lines)" test "$n" -gt 10
while IFS= read -r line; do
    l=${line#  }
    found=0
    while IFS= read -r u; do
        case "$l" in "$u"|"$u "*) found=1; break ;; esac
    done < usages.txt
    [ $found = 1 ] || nok "help line without a matching \`help NAME\` usage: $line"
done < <(grep '^  ' help.txt)
missing=0
while IFS= read -r u; do
    in_section COMMANDS "$u" || { nok "insitu.1 lacks the command usage: $u"; missing=$((missing + 1)); }
done < usages.txt
[ $missing = 0 ] && ok "insitu.1 has all $n command usage lines"

# Every setting, as a tagged paragraph of SETTINGS.
"$INSITU" -n -c show >show.txt 2>/dev/null
s=$(awk '{print $1}' show.txt | grep -c .)
check "show lists settings ($s)" test "$s" -gt 0
missing=0
for name in $(awk '{print $1}' show.txt); do
    in_section SETTINGS "$name" || { nok "insitu.1 lacks the setting: $name"; missing=$((missing + 1)); }
done
[ $missing = 0 ] && ok "insitu.1 has all $s settings"
