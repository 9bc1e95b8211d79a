#!/usr/bin/env bash
# bench_tui: CPU used by the terminal UI when idle, and while records stream in (the redraw is
# capped at 10 frames/s), measured from /proc/PID/stat with insitu in a detached tmux session.
set -u
INSITU=${INSITU:-$PWD/build/insitu}
command -v tmux >/dev/null || { echo "tmux missing: skipped"; exit 0; }
T=$(mktemp -d); trap 'tmux -L bench-$$ kill-server 2>/dev/null; rm -rf "$T"' EXIT
export XDG_DATA_HOME=$T/d XDG_CONFIG_HOME=$T/c XDG_STATE_HOME=$T/s HOME=$T
tmux -L bench-$$ -f /dev/null new-session -d -s b -x 120 -y 40 "env LANG=C.UTF-8 $INSITU"
sleep 2
pid=$(pgrep -P "$(tmux -L bench-$$ list-panes -t b -F '#{pane_pid}')" | head -n 1)
[ -n "$pid" ] || pid=$(tmux -L bench-$$ list-panes -t b -F '#{pane_pid}')
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
a=$(cpu); sleep 10; b=$(cpu)
echo "tui idle: $(awk -v d=$((b - a)) -v hz="$hz" 'BEGIN{printf "%.2f", 100 * d / hz / 10}')% CPU over 10 s (status clock ticking once a second)"
tmux -L bench-$$ send-keys -t b -l 'set clock.speed 100000'; tmux -L bench-$$ send-keys -t b Enter
tmux -L bench-$$ send-keys -t b -l 'run start bench'; tmux -L bench-$$ send-keys -t b Enter
tmux -L bench-$$ send-keys -t b -l 'repeat 2000000 { record v 1V ; wait 1s }'; tmux -L bench-$$ send-keys -t b Enter
sleep 1
a=$(cpu); sleep 10; b=$(cpu)
tmux -L bench-$$ send-keys -t b C-c
tmux -L bench-$$ send-keys -t b -l 'run stop'; tmux -L bench-$$ send-keys -t b Enter
sleep 1
n=$("$INSITU" -c "archive info $(ls "$XDG_DATA_HOME"/insitu/runs/*.nc)" | sed -n 's/^group manual: \([0-9]*\) records.*/\1/p')
echo "tui streaming: $(awk -v d=$((b - a)) -v hz="$hz" 'BEGIN{printf "%.1f", 100 * d / hz / 10}')% CPU over 10 s, $(( ${n:-0} / 11 )) records/s archived and plotted live (redraw capped at 10 frames/s)"
