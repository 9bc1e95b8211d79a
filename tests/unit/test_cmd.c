/* The command table, argument checks and the executor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insitu/clock.h"
#include "insitu/cmd.h"
#include "insitu/loop.h"
#include "insitu/msg.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/util.h"
#include "suites.h"

static struct strbuf out, errs;

static void sink(void *arg, enum msg_kind k, const char *text)
{
    struct strbuf *b = k == MSG_OUT ? &out : &errs;
    strbuf_addstr(b, text);
    strbuf_addch(b, '\n');
}

static struct session *S;
static struct exec *X;

static void setup(void)
{
    strbuf_reset(&out);
    strbuf_reset(&errs);
    msg_set_sink(sink, NULL);
    S = session_new();
    X = exec_new(S, 0);
}

static void teardown(void)
{
    exec_free(X);
    session_free(S);
    msg_set_sink(NULL, NULL);
}

/* Run TEXT as a script and the loop until it is done (bounded). */
static void run_script(const char *text, const char *file)
{
    exec_push_text(X, text, file, 1);
    exec_run(X);
    double until = clock_mono() + 10;
    while (exec_busy(X) && clock_mono() < until)
        loop_once(S->loop, 0.5);
}

START_TEST(table_is_consistent)
{
    ck_assert_int_gt(cmd_count(), 10);
    for (int i = 0; i < cmd_count(); i++) {
        const struct cmd_entry *e = cmd_at(i);
        char n1[64], n2[64];
        ck_assert_ptr_nonnull(e->usage);
        ck_assert_ptr_nonnull(e->help);
        ck_assert_ptr_nonnull(e->exec);
        cmd_fullname(e, n1, sizeof n1);
        ck_assert_msg(strncmp(e->usage, n1, strlen(n1)) == 0,
                      "usage of %s starts with its name", n1);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(cmd_fullname(cmd_at(j), n2, sizeof n2), n1) != 0,
                          "%s twice", n1);
    }
}
END_TEST

START_TEST(find_and_check)
{
    struct cmdlist l;
    struct parse_error pe;
    char err[256];
    int used;
    ck_assert_int_eq(parse_text("run start x\nrun\nrun bogus\nfrobnicate\n. f\nhelp a b c", "", 1, &l, &pe), PARSE_OK);
    const struct cmd_entry *e = cmd_find(l.v[0].argc, l.v[0].argv, &used, err, sizeof err);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->sub, "start");
    ck_assert_int_eq(used, 2);
    ck_assert_ptr_null(cmd_find(l.v[1].argc, l.v[1].argv, &used, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "run: missing sub-command (start, stop, status)"));
    ck_assert_ptr_null(cmd_find(l.v[2].argc, l.v[2].argv, &used, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "unknown sub-command \"bogus\""));
    ck_assert_ptr_null(cmd_find(l.v[3].argc, l.v[3].argv, &used, err, sizeof err));
    ck_assert_str_eq(err, "frobnicate: unknown command (`help` lists commands)");
    e = cmd_find(l.v[4].argc, l.v[4].argv, &used, err, sizeof err);
    ck_assert_str_eq(e->name, "source");
    e = cmd_find(l.v[5].argc, l.v[5].argv, &used, err, sizeof err);
    ck_assert_int_eq(cmd_check_args(e, 3, l.v[5].argv + 1, err, sizeof err), -1);
    ck_assert_str_eq(err, "help: too many arguments (usage: help [COMMAND [SUB-COMMAND]])");
    char kind[32];
    e = cmd_find(l.v[0].argc, l.v[0].argv, &used, err, sizeof err);
    ck_assert_str_eq(cmd_arg_kind(e, 0, kind, sizeof kind), "name");
    ck_assert_str_eq(cmd_arg_kind(e, 5, kind, sizeof kind), "kv");
    cmdlist_free(&l);
}
END_TEST

START_TEST(script_errors_have_file_and_line)
{
    run_script("echo one\nwait 500mX\necho never", "run.cmd");
    ck_assert_str_eq(out.s, "one\n");
    ck_assert_str_eq(errs.s, "run.cmd:2: wait: \"500mX\": unknown unit\n");
    ck_assert(exec_failed(X));
}
END_TEST

START_TEST(typed_errors_have_no_location)
{
    run_script("set clock.speed 5mA", NULL);
    ck_assert_str_eq(errs.s, "set: clock.speed: \"5mA\" is a current, not a number\n");
    strbuf_reset(&errs);
    run_script("set nosuch 1", NULL);
    ck_assert_str_eq(errs.s, "set: unknown setting \"nosuch\" (`show` lists them)\n");
}
END_TEST

START_TEST(keep_going)
{
    exec_free(X);
    X = exec_new(S, 1);
    run_script("echo a\nbogus\necho b", "k.cmd");
    ck_assert_str_eq(out.s, "a\nb\n");
    ck_assert(exec_failed(X));
}
END_TEST

START_TEST(wait_and_repeat)
{
    run_script("set clock.speed 1000\nrepeat 3 {\n  echo tick\n  wait 100ms\n}\necho done", "w.cmd");
    ck_assert_str_eq(out.s, "tick\ntick\ntick\ndone\n");
    ck_assert_str_eq(errs.s ? errs.s : "", "");
    run_script("set clock.speed 1", NULL);
}
END_TEST

START_TEST(wait_in_experiment_time)
{
    run_script("set clock.speed 3600", NULL);
    double t0 = clock_mono();
    run_script("wait 1h", NULL);
    double dt = clock_mono() - t0;
    ck_assert_msg(dt > 0.9 && dt < 5, "wait 1h at speed 3600 took %g s", dt);
    run_script("set clock.speed 1", NULL);
}
END_TEST

START_TEST(source_and_nesting)
{
    char dir[] = "/tmp/insitu-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *a = util_printf("%s/a.cmd", dir), *b = util_printf("%s/b.cmd", dir);
    FILE *f = fopen(a, "w");
    fprintf(f, "echo in-a\nsource b.cmd\necho back-in-a\n");
    fclose(f);
    f = fopen(b, "w");
    fprintf(f, "echo in-b\n\nwait 5xyz\n");
    fclose(f);
    char *cmd = util_printf("source %s\necho after", a);
    run_script(cmd, "top.cmd");
    ck_assert_str_eq(out.s, "in-a\nin-b\n");
    char *want = util_printf("%s:3: wait: \"5xyz\": unknown unit\n", b);
    ck_assert_str_eq(errs.s, want);
    /* a file that sources itself is stopped, not a crash */
    f = fopen(b, "w");
    fprintf(f, "source b.cmd\n");
    fclose(f);
    strbuf_reset(&errs);
    run_script(cmd, "top.cmd");
    ck_assert_ptr_nonnull(strstr(errs.s, "nested too deeply"));
    unlink(a);
    unlink(b);
    rmdir(dir);
    free(a);
    free(b);
    free(cmd);
    free(want);
}
END_TEST

START_TEST(help_lists_every_command)
{
    run_script("help", NULL);
    for (int i = 0; i < cmd_count(); i++)
        ck_assert_ptr_nonnull(strstr(out.s, cmd_at(i)->usage));
    strbuf_reset(&out);
    run_script("help run start", NULL);
    ck_assert(util_startswith(out.s, "usage: run start [NAME] [KEY=VALUE]..."));
}
END_TEST

Suite *cmd_suite(void)
{
    Suite *s = suite_create("cmd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, table_is_consistent);
    tcase_add_test(tc, find_and_check);
    tcase_add_test(tc, script_errors_have_file_and_line);
    tcase_add_test(tc, typed_errors_have_no_location);
    tcase_add_test(tc, keep_going);
    tcase_add_test(tc, wait_and_repeat);
    tcase_add_test(tc, wait_in_experiment_time);
    tcase_add_test(tc, source_and_nesting);
    tcase_add_test(tc, help_lists_every_command);
    suite_add_tcase(s, tc);
    return s;
}
