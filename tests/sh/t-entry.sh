# Entry points: options, exit codes, messages with file:line, stdin scripts.
. "$(dirname "$0")/lib.sh"

run --version;        expect_rc 0 "--version"; check "--version prints insitu X.Y.Z" grep -qE '^insitu [0-9]+\.[0-9]+\.[0-9]+$' "$T/.out"
run --help;           expect_rc 0 "--help";    expect_out "usage: insitu" "--help prints usage"
run --frobnicate;     expect_rc 2 "unknown long option"; expect_err "insitu: unknown option --frobnicate" "unknown option named"
run -Z;               expect_rc 2 "unknown short option"; expect_err "unknown option -Z" "unknown short option named"
run -x;               expect_rc 2 "-x without a file"
run extra;            expect_rc 2 "stray argument"

run -c 'echo hello; echo "two words"'
expect_rc 0 "-c runs commands"; expect_out "two words" "-c output on stdout"
run -c 'echo a; bogus; echo b'
expect_rc 1 "-c with an unknown command fails"; expect_err "bogus: unknown command" "unknown command named"
check "-c stops at the first error" test "$out" = "a"
run -k -c 'echo a; bogus; echo b'
expect_rc 1 "-k keeps going but still fails"; check "-k ran the rest" test "$(echo "$out" | tr '\n' ' ')" = "a b "
run -c 'wait 500mX'
expect_err 'wait: "500mX": unknown unit' "interactive error is CMD: reason"

printf 'echo one\n# comment\nset clock.speed 5mA\necho never\n' > bad.cmd
run -x bad.cmd
expect_rc 1 "script error exits 1"
expect_err 'bad.cmd:3: set: clock.speed: "5mA" is a current, not a number' "script error has FILE:LINE: CMD: reason"
check "script stopped at its error" test "$out" = "one"

printf 'echo ok\necho "unterminated\n' > quote.cmd
run -x quote.cmd
expect_rc 1 "unterminated quote fails"; expect_err 'quote.cmd:2: unterminated "..." string' "unterminated quote at its line"
check "nothing ran from a script that does not parse" test -z "$out"

run -x missing.cmd
expect_rc 1 "missing script"; expect_err "missing.cmd: No such file or directory" "missing script named"
run -c 'source nothere.cmd'
expect_rc 1 "source of a missing file"; expect_err "source: nothere.cmd: No such file or directory" "source names the file"

# stdin: '-' and a pipe, incrementally, with blocks spanning lines
printf 'echo first\nrepeat 2 {\n  echo loop\n}\necho last\n' | "$INSITU" - >o 2>e; rc=$?
check "stdin script runs (exit $rc)" test "$rc" = 0
check "stdin output in order" test "$(tr '\n' ' ' < o)" = "first loop loop last "
printf 'echo x\nfoo bar\necho y\n' | "$INSITU" >o 2>e; rc=$?
check "piped stdin without - is read too, error exits 1" test "$rc" = 1
check "stdin errors name stdin:LINE" grep -qF 'stdin:2: foo: unknown command' e
check "stdin stops at its first error" test "$(cat o)" = "x"
(echo 'echo early'; sleep 0.3; echo 'echo late') | "$INSITU" - >o 2>e
check "stdin is read as it arrives" test "$(tr '\n' ' ' < o)" = "early late "
printf 'echo "open\n' | "$INSITU" - >o 2>e; rc=$?
check "unterminated quote at end of stdin fails" test "$rc" = 1
check "and says where" grep -qF 'stdin:1: unterminated "..." string' e

# config file: commands run first; its errors do not fail the command line
mkdir -p "$XDG_CONFIG_HOME/insitu"
printf 'set archive.sync 1s\nbogus-in-config\n' > "$XDG_CONFIG_HOME/insitu/insituc"
run -c 'show archive.sync'
expect_rc 0 "config errors do not fail -c"; expect_out "archive.sync 1s" "config file applied"
expect_err "insituc:2: bogus-in-config: unknown command" "config error has file:line"
run -n -c 'show archive.sync'
expect_out "archive.sync 2s" "-n skips the config file"
rm "$XDG_CONFIG_HOME/insitu/insituc"

run -c 'help'
expect_rc 0 "help"; expect_out "run start [NAME] [KEY=VALUE]..." "help lists run start"
run -c 'help run stop'
expect_out "usage: run stop" "help CMD SUB"
run -c 'help nosuch'
expect_rc 1 "help of an unknown command fails"
run -c 'show'
expect_out "clock.speed 1" "show lists settings"
run -c 'run'
expect_err "run: missing sub-command (start, stop, status)" "missing sub-command"
run -c 'run start a b c=d'
expect_rc 1 "bad metadata refused"; expect_err 'run start: "b": metadata is KEY=VALUE' "metadata error"
run -c 'run start bad/name'
expect_rc 1 "bad run name refused"
run -c 'note hi'
expect_rc 1 "note without a run"; expect_err "note: no active run" "note needs a run"
run -c 'run stop'
expect_rc 1 "run stop without a run"
run -c 'wait -1s'
expect_rc 1 "negative wait refused"
run -c 'run status'
expect_out "no active run" "run status without a run"
