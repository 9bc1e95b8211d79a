# Shared helpers for the shell tests (TAP-like: "ok - ..." / "not ok - ..." lines).
# Every test runs in its own scratch directory with private XDG directories, so nothing
# touches the user's files.
set -u
: "${INSITU:?INSITU must point at the insitu binary}"
SHDIR=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/insitu-sh.XXXXXX")
trap 'rm -rf "$T"' EXIT
export XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" XDG_STATE_HOME="$T/state"
export HOME="$T/home"
mkdir -p "$HOME"
cd "$T" || exit 1
RUNS="$XDG_DATA_HOME/insitu/runs"

ok()   { echo "ok - $*"; }
nok()  { echo "not ok - $*"; }
check() { # check DESC COMMAND...: passes when COMMAND succeeds
    local d=$1; shift
    if "$@"; then ok "$d"; else nok "$d"; fi
}
# run ARGS...: run insitu with stdin from /dev/null; sets $rc, $out (stdout), $err (stderr)
run() {
    "$INSITU" "$@" </dev/null >"$T/.out" 2>"$T/.err"
    rc=$?
    out=$(cat "$T/.out"); err=$(cat "$T/.err")
}
expect_rc() { # expect_rc N DESC
    if [ "$rc" = "$1" ]; then ok "$2 (exit $rc)"; else nok "$2: exit $rc, wanted $1; stderr: $err"; fi
}
expect_err() { # expect_err TEXT DESC: stderr contains TEXT exactly (fixed string)
    if grep -qF -- "$1" "$T/.err"; then ok "$2"; else nok "$2: stderr lacks [$1]; got [$err]"; fi
}
expect_out() {
    if grep -qF -- "$1" "$T/.out"; then ok "$2"; else nok "$2: stdout lacks [$1]; got [$out]"; fi
}
runfile() { ls "$RUNS"/*.nc 2>/dev/null | tail -n 1; }
