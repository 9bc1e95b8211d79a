# The terminal workstation end to end: insitu in a detached tmux session, keys typed, the screen
# read back with capture-pane.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "skip - tmux not installed"; exit 0; }
. "$SHDIR/tmux.sh"
trap 'tui_stop; rm -rf "$T"' EXIT

# 120x40, UTF-8: panes, status line, command line
tui_start 120x40 LANG=C.UTF-8 TERM=xterm-256color --
screen_has "1 plot" "plot pane drawn"
screen_has "2 log" "log pane drawn"
screen_has "no instruments" "status line drawn"
screen_has "insitu>" "command line drawn"
screen_has "│" "UTF-8 box drawing in a UTF-8 locale"

# command output goes to the log pane
tui_cmd 'echo hello from the log'
screen_has "hello from the log" "command output in the log pane"
tui_cmd 'frobnicate'
screen_has "frobnicate: unknown command" "errors in the log pane"

# completion from the command table, shown inside the screen
tui_type 'run st'; tui_keys Tab; tui_keys Tab
screen_has "3 completions" "completion list shown in the screen"
screen_has "status" "completion lists sub-commands"
tui_keys C-u
tui_type 'layout lo'; tui_keys Tab
screen_has "insitu> layout load" "Tab completes a sub-command"
tui_keys C-u

# help overlay on F1 and ?, closed by any key
tui_keys F1
screen_has "Keys  (any other key closes" "F1 opens the help overlay"
screen_has "pane focus next" "the overlay lists bindings"
tui_keys Escape
screen_lacks "Keys  (any other key closes" "Escape closes the overlay"
tui_keys M-n
tui_keys '?'
screen_has "In this plot pane:" "? in a pane shows its keys too"
tui_keys Escape
tui_keys Escape

# a run, records, the plot follows
tui_cmd 'set clock.speed 1000'
tui_cmd 'run start tui'
tui_cmd 'repeat 20 {'
tui_cmd 'record v 1V'
tui_cmd 'wait 60s'
tui_cmd 'record v 2V'
tui_cmd 'wait 60s'
tui_cmd '}'
tui_wait_for "voltage [V]" 5
screen_has "voltage [V]" "plot pane shows the recorded channel"
screen_has "run tui" "status line shows the run"
screen_has "clock x1000" "status line shows the clock speed"

# zoom and focus
tui_keys M-1
tui_keys z
screen_has "zoomed" "z zooms the focused pane"
screen_lacks "2 log" "zoom hides the other panes"
tui_keys z
screen_has "2 log" "z again restores the layout"

# resize: re-laid out; too small gets a message; back again
tui_resize 80x24
screen_has "2 log" "redrawn at 80x24"
tui_resize 60x20
screen_has "terminal too small" "below 80x24: a clear message"
tui_resize 120x40
screen_has "2 log" "back to 120x40"

# layouts
tui_keys Escape
tui_cmd 'layout load insitu'
screen_has "3 cycler" "layout load insitu"
screen_has "1 nmr spectrum" "insitu: the spectrum pane"
screen_has "2 stack" "insitu: the stack pane below it"
screen_has "waiting for the first spectrum" "the NMR panes wait for group nmr"
tui_cmd 'zoom 350'
screen_has "zoom needs two values" "zoom with one value is an error"
tui_cmd 'zoom 300 ppm 200 ppm'
tui_cmd 'layout show 120x40 -c'
screen_has "spectrum name=nmr zoom=300ppm,200ppm" "zoom sets the spectrum pane's range"
printf 'split -v 1\npane nosuch\n' > bad.layout
tui_cmd "layout load $T/bad.layout"
# (the log is a column of the insitu layout: the path wraps, the line number does not)
screen_has ':2: pane: "nosuch"' "a bad layout file is reported with FILE:LINE"
screen_has "3 cycler" "and the current layout stays"

# quit asks while a run is active; n keeps going, y stops the run and restores the terminal
tui_cmd 'quit'
screen_has "Stop it and quit?" "quit asks while a run is active"
tui_keys n
screen_lacks "Stop it and quit?" "n answers no"
screen_has "insitu>" "still running"
tui_cmd 'quit'
tui_keys y
tui_wait_for "EXITED 0" 5
screen_has "EXITED 0" "y quits with status 0"
screen_lacks "no instruments" "the terminal is restored"
f=$(ls "$RUNS"/*-tui.nc)
"$INSITU" -c "archive info $f" > info 2>&1
check "the run was closed cleanly on quit" grep -q "(complete)" info
tui_stop

# ASCII when the locale is not UTF-8; NO_COLOR means no colours
tui_start 80x24 LANG=C LC_ALL=C NO_COLOR=1 TERM=screen-256color --
screen_has "1 plot" "starts in LANG=C"
if tui_screen | LC_ALL=C grep -q '[^ -~]'; then nok "LANG=C screen is pure ASCII"; else ok "LANG=C screen is pure ASCII"; fi
if tui_screen_esc | grep -qE $'\e\\[(3[0-7]|38;5;[0-9]+|9[0-7])m'; then nok "NO_COLOR: no colour codes"; else ok "NO_COLOR: no colour codes"; fi
tui_stop
tui_start 80x24 LANG=C.UTF-8 TERM=xterm-256color --
if tui_screen_esc | grep -qE $'\e\\[(3[0-7]|38;5;[0-9]+)m'; then ok "colours without NO_COLOR"; else nok "colours without NO_COLOR"; fi
tui_stop
tui_start 80x24 LANG=C.UTF-8 TERM=xterm-256color -- --ascii --no-color
if tui_screen | LC_ALL=C grep -q '[^ -~]'; then nok "--ascii: pure ASCII"; else ok "--ascii: pure ASCII"; fi
if tui_screen_esc | grep -qE $'\e\\[(3[0-7]|38;5;[0-9]+)m'; then nok "--no-color: no colour codes"; else ok "--no-color: no colour codes"; fi
tui_stop
for term in linux vt100 tmux-256color; do
    tui_start 80x24 LANG=C TERM=$term --
    screen_has "insitu>" "works with TERM=$term"
    tui_stop
done

# SIGHUP (the SSH link drops): the screen goes, the run goes on headless and ends cleanly
tui_start 100x30 LANG=C.UTF-8 --
tui_cmd 'set clock.speed 100'
tui_cmd 'run start hup'
tui_cmd 'record x 1'
pid=$(pgrep -f "$INSITU" | head -n 1)
ppid=$(tui_pid)
pid=$(pgrep -P "$ppid" -f insitu | head -n 1)
kill -HUP "$pid"
sleep 1
check "insitu survives SIGHUP while a run is active" kill -0 "$pid"
kill -TERM "$pid"
for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM then stops it" bash -c "! kill -0 $pid 2>/dev/null"
f=$(ls "$RUNS"/*-hup.nc)
"$INSITU" -c "archive info $f" > info 2>&1
check "the run continued and closed cleanly after the hangup" grep -q "(complete)" info
ncdump -v text "$f" > txt 2>&1
check "the hangup is in the run's log" grep -q "hangup" txt
tui_stop

# SIGTERM at the screen: the run is stopped cleanly, the terminal restored, status 143
tui_start 100x30 LANG=C.UTF-8 --
tui_cmd 'run start term'
tui_cmd 'note before the signal'
pid=$(pgrep -P "$(tui_pid)" -f insitu | head -n 1)
kill -TERM "$pid"
tui_wait_for "EXITED" 5
screen_has "EXITED 143" "SIGTERM exits with 143"
screen_lacks "no instruments" "the terminal is restored after SIGTERM"
f=$(ls "$RUNS"/*-term.nc)
"$INSITU" -c "archive info $f" > info 2>&1
check "SIGTERM closed the run's archive cleanly" grep -q "(complete)" info
tui_stop

# make install: the installed program finds its layouts under any PREFIX
(cd "$SHDIR/../.." && make --no-print-directory install PREFIX="$T/prefix" >/dev/null 2>&1)
"$T/prefix/bin/insitu" -n -c 'layout list' > ll 2>&1
check "installed insitu finds the installed layouts" grep -q "$T/prefix/share/insitu/layouts/insitu" ll

# a crash signal restores the terminal
tui_start 100x30 LANG=C.UTF-8 --
pid=$(pgrep -P "$(tui_pid)" -f insitu | head -n 1)
kill -SEGV "$pid"
tui_wait_for "EXITED" 5
screen_lacks "no instruments" "the terminal is restored after a crash signal"
tui_stop

# a waiting command does not hold up the next one; C-c abandons it, the program stays
tui_start 100x30 LANG=C.UTF-8 --
tui_cmd 'wait 1h; echo never-printed'
tui_cmd 'echo not-held-up'
screen_has "not-held-up" "a typed command runs while another waits"
tui_keys C-c
screen_has "cancelled" "C-c cancels the waiting command"
tui_cmd 'echo after'
screen_has "after" "the screen goes on after C-c"
if tui_screen | grep -qE ':[0-9][0-9] never-printed'; then nok "the rest of the cancelled line never runs"; else ok "the rest of the cancelled line never runs"; fi
tui_stop

# readline: history kept across sessions in $XDG_STATE_HOME/insitu/history, C-r searches it
tui_start 100x30 LANG=C.UTF-8 --
tui_cmd 'echo remembered-line'
tui_cmd 'quit'
tui_wait_for "EXITED" 5
tui_stop
check "history file written" grep -q "echo remembered-line" "$XDG_STATE_HOME/insitu/history"
tui_start 100x30 LANG=C.UTF-8 --
tui_keys Up; tui_keys Up
screen_has "insitu> echo remembered-line" "Up recalls the last session's command"
tui_keys C-u
tui_keys C-r
tui_type 'rememb'
screen_has "reverse-i-search" "C-r searches the history in the command line"
tui_keys C-g
tui_stop

# ~/.inputrc sections for insitu apply: vi editing mode
printf '$if insitu\nset editing-mode vi\n$endif\n' > "$HOME/.inputrc"
tui_start 100x30 LANG=C.UTF-8 INPUTRC="$HOME/.inputrc" --
tui_type 'xecho vi-mode-works'
tui_keys Escape
tui_keys 0
tui_keys x
tui_keys Enter
screen_has "vi-mode-works" "vi mode from ~/.inputrc (Esc 0 x deleted the first character)"
screen_lacks "xecho: unknown command" "the vi edit took effect"
tui_stop
rm -f "$HOME/.inputrc"
