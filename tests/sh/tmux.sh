# Helpers to drive insitu in a detached tmux session and read the screen (sourced by t-tui*.sh).
# tui_start COLSxROWS [ENV=VAL...] -- ARGS : start; tui_type TEXT : type literally;
# tui_keys KEY... : tmux key names (Enter, Tab, F1, M-z); tui_screen : capture; tui_stop.
TUI_SOCK="insitu-test-$$"
tui_start() {
    local size=$1; shift
    TUI_N=$(( ${TUI_N:-0} + 1 )); TUI_SOCK="insitu-test-$$-$TUI_N"
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    tmux -L "$TUI_SOCK" -f /dev/null new-session -d -s t -x "${size%x*}" -y "${size#*x}" \
        "env ${envs[*]} $INSITU $*; echo EXITED \$?; sleep 30"
    tui_wait_for 'insitu>' 10 || true
}
tui_type() { tmux -L "$TUI_SOCK" send-keys -t t -l -- "$1"; sleep "${TUI_DELAY:-0.3}"; }
tui_keys() { tmux -L "$TUI_SOCK" send-keys -t t "$@"; sleep "${TUI_DELAY:-0.3}"; }
tui_cmd() { tui_type "$1"; tui_keys Enter; }
tui_screen() { tmux -L "$TUI_SOCK" capture-pane -p -t t; }
tui_screen_esc() { tmux -L "$TUI_SOCK" capture-pane -p -e -t t; }
tui_resize() { tmux -L "$TUI_SOCK" resize-window -t t -x "${1%x*}" -y "${1#*x}"; sleep 0.5; }
tui_pid() { tmux -L "$TUI_SOCK" list-panes -t t -F '#{pane_pid}'; }
# tui_stop: end the session; an insitu still running in it (a run keeps it alive after the
# terminal goes away, by design) is stopped with SIGTERM, and SIGKILL if it lingers.
tui_stop() {
    local pp kids
    pp=$(tmux -L "$TUI_SOCK" list-panes -t t -F '#{pane_pid}' 2>/dev/null)
    kids=$([ -n "$pp" ] && pgrep -P "$pp")
    tmux -L "$TUI_SOCK" kill-server 2>/dev/null || true
    [ -n "$kids" ] || return 0
    kill -TERM $kids 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $kids 2>/dev/null || return 0; sleep 0.2; done
    kill -KILL $kids 2>/dev/null || true
}
# tui_wait_for TEXT SECONDS: until the screen shows TEXT
tui_wait_for() {
    local i=0 n=$(( ${2:-5} * 10 ))
    while [ $i -lt $n ]; do
        tui_screen 2>/dev/null | grep -qF -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
screen_has() { # screen_has TEXT DESC
    if tui_screen | grep -qF -- "$1"; then ok "$2"; else nok "$2: screen lacks [$1]"; tui_screen | sed 's/^/    | /' | head -50; fi
}
screen_lacks() {
    if tui_screen | grep -qF -- "$1"; then nok "$2: screen shows [$1]"; else ok "$2"; fi
}
