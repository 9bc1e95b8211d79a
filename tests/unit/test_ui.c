/* The terminal workstation without a terminal: layouts, keys, completion, bindings, drawing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insitu/canvas.h"
#include "insitu/cmd.h"
#include "insitu/complete.h"
#include "insitu/desk.h"
#include "insitu/keys.h"
#include "insitu/layout.h"
#include "insitu/pane.h"
#include "insitu/session.h"
#include "insitu/util.h"
#include "suites.h"

static struct session *S;
static struct desk *D;
static char tmpdir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    strcpy(tmpdir, "/tmp/insitu-ui-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    S = session_new();
    D = desk_new(S);
    D->utf8 = 0;
}

static void teardown(void)
{
    desk_free(D);
    session_free(S);
    char *cmd = util_printf("rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

/* Draw the desk at W x H in ASCII; the status line's clock is masked. */
static char *draw(int w, int h)
{
    struct canvas *c = canvas_new(w, h);
    desk_draw(D, c);
    struct strbuf b = { 0 };
    canvas_to_text(c, &b);
    canvas_free(c);
    char *t = strbuf_take(&b);
    for (char *p = t; (p = strstr(p, ":")) != NULL; p++)
        if (p - t >= 2 && p[3] == ':' && p[-2] >= '0' && p[-2] <= '9')
            memcpy(p - 2, "hh:mm:ss", 8);
    return t;
}

static void golden(const char *name, const char *got)
{
    char *path = util_printf("tests/golden/%s", name);
    if (getenv("INSITU_GOLDEN_UPDATE")) {
        write_file(path, got);
    } else {
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "missing %s (INSITU_GOLDEN_UPDATE=1 writes it)", path);
        struct strbuf b = { 0 };
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            strbuf_add(&b, buf, n);
        fclose(f);
        ck_assert_msg(b.s && !strcmp(b.s, got), "%s differs; got:\n%s", path, got);
        strbuf_free(&b);
    }
    free(path);
}

START_TEST(sizes)
{
    struct layout_size s;
    ck_assert_int_eq(layout_parse_size("65%", &s), 0);
    ck_assert(s.percent && s.value == 65 && !s.second);
    ck_assert_int_eq(layout_parse_size("-2", &s), 0);
    ck_assert(!s.percent && s.value == 2 && s.second);
    ck_assert_int_eq(layout_parse_size("100%", &s), -1);
    ck_assert_int_eq(layout_parse_size("x", &s), -1);
    ck_assert_int_eq(layout_parse_size("5cells", &s), -1);
    /* geometry: 65% of 100 rows, the rest below; side by side leaves a separator column */
    struct layout_cell *root = layout_leaf();
    layout_parse_size("65%", &s);
    struct layout_cell *a = layout_split(root, LAYOUT_V, &s);
    layout_parse_size("-30", &s);
    layout_split(a, LAYOUT_H, &s);
    layout_compute(root, 0, 0, 121, 100);
    ck_assert_int_eq(root->a->h, 65);
    ck_assert_int_eq(root->b->y, 65);
    ck_assert_int_eq(root->a->b->w, 30);
    ck_assert_int_eq(root->a->a->w, 90);
    ck_assert_int_eq(root->a->b->x, 91);
    ck_assert_int_eq(layout_count_leaves(root), 3);
    /* too small: every part keeps at least a cell */
    layout_compute(root, 0, 0, 3, 2);
    ck_assert_int_ge(root->a->a->w, 1);
    ck_assert_int_ge(root->b->h, 1);
    layout_free(root);
}
END_TEST

START_TEST(default_layout_golden)
{
    char *t = draw(80, 24);
    golden("layout-default-80x24.txt", t);
    free(t);
    char err[400];
    ck_assert_msg(desk_layout_load(D, "insitu", err, sizeof err) == 0, "%s", err);
    t = draw(120, 40);
    golden("layout-insitu-120x40.txt", t);
    free(t);
    ck_assert_msg(desk_layout_load(D, "spm", err, sizeof err) == 0, "%s", err);
    t = draw(79, 30);
    ck_assert_ptr_nonnull(strstr(t, "terminal too small: 79x30 (insitu needs 80x24)"));
    free(t);
    t = draw(20, 10);
    ck_assert_ptr_nonnull(strstr(t, "20x10<80x24"));
    free(t);
}
END_TEST

START_TEST(bad_layouts_keep_the_current_one)
{
    char path[128], err[400];
    snprintf(path, sizeof path, "%s/bad", tmpdir);
    struct strbuf before = { 0 }, after = { 0 };
    desk_layout_dump(D, &before);
    const struct {
        const char *text, *want;
    } cases[] = {
        { "split -v -2\npane log\npane nosuch\n", ":3: pane: \"nosuch\": no such pane type" },
        { "split -v 50%\npane cmd\n", "1 part of the layout has no pane" },
        { "pane log\n", "a layout needs exactly one `pane cmd` (it has 0)" },
        { "split -v 150%\n", ":1: split: \"150%\": a size is" },
        { "split -v 1\npane cmd\n\nrun start x\n", ":4: run: a layout holds only" },
        { "split -v 1\npane 'cmd\n", ":2: unterminated '...' string" },
        { "pane cmd\npane log\n", ":2: pane: every cell of the layout already has a pane" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file(path, cases[i].text);
        ck_assert_int_eq(desk_layout_load(D, path, err, sizeof err), -1);
        ck_assert_msg(strstr(err, cases[i].want) && strstr(err, path), "case %zu: %s", i, err);
    }
    desk_layout_dump(D, &after);
    ck_assert_str_eq(before.s, after.s);
    ck_assert_int_eq(desk_layout_load(D, "no-such-layout", err, sizeof err), -1);
    strbuf_free(&before);
    strbuf_free(&after);
}
END_TEST

START_TEST(save_and_load_round_trip)
{
    char err[400], path[512];
    ck_assert_int_eq(desk_layout_load(D, "insitu", err, sizeof err), 0);
    ck_assert_int_eq(desk_focus(D, "nmr", err, sizeof err), 0);
    struct word w[2] = { { "-h", 0, 0, 1 }, { "40%", 0, 0, 1 } };
    ck_assert_int_eq(desk_split(D, 0, "40%", 0, w, err, sizeof err), 0);
    struct strbuf a = { 0 }, b = { 0 };
    desk_layout_dump(D, &a);
    ck_assert_int_eq(desk_layout_save(D, "mine", path, sizeof path, err, sizeof err), 0);
    ck_assert_int_eq(desk_layout_load(D, "default", err, sizeof err), 0);
    ck_assert_int_eq(desk_layout_load(D, "mine", err, sizeof err), 0);
    desk_layout_dump(D, &b);
    ck_assert_str_eq(a.s, b.s);
    ck_assert_ptr_nonnull(strstr(a.s, "pane spectrum name=nmr zoom=350ppm,100ppm"));
    ck_assert_ptr_nonnull(strstr(a.s, "pane stack zoom=350ppm,100ppm"));
    ck_assert_ptr_nonnull(strstr(a.s, "pane cycler"));
    struct strbuf l = { 0 };
    desk_layout_list(D, &l);
    ck_assert_ptr_nonnull(strstr(l.s, "mine"));
    ck_assert_ptr_nonnull(strstr(l.s, "default"));
    strbuf_free(&a);
    strbuf_free(&b);
    strbuf_free(&l);
}
END_TEST

START_TEST(focus_zoom_swap_close)
{
    char err[400];
    ck_assert(desk_cmd_focused(D));
    ck_assert_int_eq(desk_focus(D, "1", err, sizeof err), 0);
    ck_assert_str_eq(D->focus->type->name, "plot");
    ck_assert_int_eq(desk_focus(D, "log", err, sizeof err), 0);
    ck_assert_int_eq(D->focus->id, 2);
    ck_assert_int_eq(desk_focus(D, "nope", err, sizeof err), -1);
    desk_zoom(D);
    char *t = draw(80, 24);
    ck_assert_ptr_nonnull(strstr(t, "2 log"));
    ck_assert_ptr_null(strstr(t, "1 plot"));   /* zoomed: the plot is hidden */
    free(t);
    desk_zoom(D);
    ck_assert_int_eq(desk_swap(D, "1", err, sizeof err), 0);
    ck_assert_str_eq(desk_find(D, "1")->type->name, "log");
    ck_assert_int_eq(desk_close(D, err, sizeof err), 0);
    ck_assert_int_eq(layout_count_leaves(D->root), 3);
    ck_assert_int_eq(desk_focus(D, "cmd", err, sizeof err), 0);
    ck_assert_int_eq(desk_close(D, err, sizeof err), -1);
}
END_TEST

static char ran[128];
static void record_cmd(struct desk *d, const char *text)
{
    util_strlcpy(ran, text, sizeof ran);
}

START_TEST(keys_and_bindings)
{
    char buf[32], err[200];
    const char *names[] = { "C-l", "M-z", "F1", "F12", "PageUp", "Up", "M-Left", "q", "?", "BTab", "Escape", "M-1", "é" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int k = keys_parse(names[i]);
        ck_assert_msg(k >= 0, "%s", names[i]);
        ck_assert_str_eq(keys_name(k, buf, sizeof buf), names[i]);
    }
    ck_assert_int_eq(keys_parse("C-"), -1);
    ck_assert_int_eq(keys_parse("F13"), -1);
    ck_assert_int_eq(keys_parse("ab"), -1);
    ck_assert_int_eq(desk_bind(D, "nokey", "redraw", err, sizeof err), -1);
    ck_assert_int_eq(desk_bind(D, "Enter", "redraw", err, sizeof err), -1);
    ck_assert_int_eq(desk_bind(D, "x", "echo 'open", err, sizeof err), -1);
    ck_assert_int_eq(desk_bind(D, "x", "echo hi", err, sizeof err), 0);
    D->run_command = record_cmd;
    /* plain keys are typing while the command line has the focus */
    ran[0] = 0;
    ck_assert_int_eq(desk_key(D, 'x'), 0);
    ck_assert_str_eq(ran, "");
    ck_assert_int_eq(desk_key(D, KEYS_F1), 1);
    ck_assert_str_eq(ran, "keys");
    desk_focus(D, "log", err, sizeof err);
    ck_assert_int_eq(desk_key(D, 'x'), 1);
    ck_assert_str_eq(ran, "echo hi");
    ck_assert_int_eq(desk_key(D, 'q'), 1);
    ck_assert_str_eq(ran, "quit");
    ck_assert_int_eq(desk_key(D, KEYS_ESC), 1);   /* back to the command line */
    ck_assert(desk_cmd_focused(D));
    ck_assert_int_eq(desk_unbind(D, "x", err, sizeof err), 0);
    ck_assert_int_eq(desk_unbind(D, "x", err, sizeof err), -1);
    /* the confirm overlay takes the next key */
    desk_confirm(D, "Stop?", "quit -f");
    ran[0] = 0;
    ck_assert_int_eq(desk_key(D, 'n'), 1);
    ck_assert_str_eq(ran, "");
    desk_confirm(D, "Stop?", "quit -f");
    desk_key(D, 'y');
    ck_assert_str_eq(ran, "quit -f");
}
END_TEST

static int has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (!strcmp(*v, s))
            return 1;
    return 0;
}

static char **C(const char *line, int *files)
{
    int end = (int)strlen(line), start = end;
    while (start > 0 && line[start - 1] != ' ' && line[start - 1] != ';')
        start--;
    return complete_line(line, start, end, files);
}

START_TEST(completion)
{
    int files;
    char **v = C("ru", &files);
    ck_assert(has(v, "run") && !has(v, "help"));
    complete_free(v);
    v = C("run st", &files);
    ck_assert(has(v, "start") && has(v, "stop") && has(v, "status") && !has(v, "run"));
    complete_free(v);
    v = C("set clo", &files);
    ck_assert(has(v, "clock.speed"));
    complete_free(v);
    v = C("show ", &files);
    ck_assert(has(v, "archive.dir") && has(v, "archive.sync") && has(v, "clock.speed"));
    complete_free(v);
    v = C("layout load ", &files);
    ck_assert(has(v, "default") && has(v, "insitu") && has(v, "spm"));
    complete_free(v);
    v = C("pane t", &files);
    ck_assert(has(v, "type") && has(v, "types"));
    complete_free(v);
    v = C("pane type ", &files);
    ck_assert(has(v, "plot") && has(v, "log") && has(v, "status"));
    complete_free(v);
    v = C("pane focus ", &files);
    ck_assert(has(v, "next") && has(v, "1") && has(v, "cmd"));
    complete_free(v);
    v = C("help ar", &files);
    ck_assert(has(v, "archive"));
    complete_free(v);
    v = C("echo x; he", &files);
    ck_assert(has(v, "help"));
    complete_free(v);
    v = C("source ", &files);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(files, 1);
    v = C("archive info ", &files);
    ck_assert_int_eq(files, 1);
    complete_free(v);
}
END_TEST

START_TEST(log_ring)
{
    for (int i = 0; i < 6000; i++) {
        char t[32];
        snprintf(t, sizeof t, "line %d", i);
        desk_log(D, MSG_OUT, t);
    }
    ck_assert_uint_eq(D->log_n, 5000);
    ck_assert_str_eq(desk_log_line(D, 0)->text, "line 1000");
    ck_assert_str_eq(desk_log_line(D, 4999)->text, "line 5999");
    desk_log(D, MSG_OUT, "two\nlines");
    ck_assert_str_eq(desk_log_line(D, 4999)->text, "lines");
    char *t = draw(100, 30);
    ck_assert_ptr_nonnull(strstr(t, "lines"));
    free(t);
}
END_TEST

Suite *ui_suite(void)
{
    Suite *s = suite_create("ui");
    TCase *tc = tcase_create("desk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, default_layout_golden);
    tcase_add_test(tc, bad_layouts_keep_the_current_one);
    tcase_add_test(tc, save_and_load_round_trip);
    tcase_add_test(tc, focus_zoom_swap_close);
    tcase_add_test(tc, keys_and_bindings);
    tcase_add_test(tc, completion);
    tcase_add_test(tc, log_ring);
    suite_add_tcase(s, tc);
    return s;
}
