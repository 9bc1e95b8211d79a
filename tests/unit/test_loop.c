/* The event loop: timers (real and virtual), fd watchers, signals, deferred calls. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "insitu/clock.h"
#include "insitu/loop.h"
#include "suites.h"

static char order[64];
static int norder;

static double t_mark(struct loop *l, long long id, void *arg)
{
    order[norder++] = *(const char *)arg;
    return -1;
}

static int nrep;
static double t_repeat(struct loop *l, long long id, void *arg)
{
    return ++nrep < 5 ? 0.001 : -1;
}

START_TEST(timers_in_order)
{
    struct loop *l = loop_new();
    norder = 0;
    loop_timer_add(l, 0.03, 0, t_mark, "c");
    loop_timer_add(l, 0.01, 0, t_mark, "a");
    loop_timer_add(l, 0.02, 0, t_mark, "b");
    long long gone = loop_timer_add(l, 0.015, 0, t_mark, "x");
    loop_timer_del(l, gone);
    nrep = 0;
    loop_timer_add(l, 0, 0, t_repeat, NULL);
    double t0 = clock_mono();
    while (norder < 3 && clock_mono() - t0 < 2)
        loop_once(l, 1);
    order[norder] = 0;
    ck_assert_str_eq(order, "abc");
    ck_assert_int_eq(nrep, 5);
    ck_assert(clock_mono() - t0 >= 0.029);
    loop_free(l);
}
END_TEST

START_TEST(virtual_timer_follows_speed)
{
    struct loop *l = loop_new();
    norder = 0;
    clock_set_speed(100);
    double t0 = clock_mono(), v0 = clock_now();
    loop_timer_add(l, 10.0, 1, t_mark, "v");   /* 10 s of experiment time = 0.1 s real */
    while (norder < 1 && clock_mono() - t0 < 5)
        loop_once(l, 1);
    double real = clock_mono() - t0, virt = clock_now() - v0;
    clock_set_speed(1);
    ck_assert_int_eq(norder, 1);
    ck_assert_msg(real > 0.09 && real < 1.0, "real %g", real);
    ck_assert_msg(virt >= 10.0, "virtual %g", virt);
    loop_free(l);
}
END_TEST

START_TEST(speed_change_keeps_virtual_time_continuous)
{
    double a = clock_now();
    clock_set_speed(1000);
    double b = clock_now();
    clock_set_speed(1);
    double c = clock_now();
    ck_assert(b >= a && b - a < 0.5);
    ck_assert(c >= b && c - b < 1.0);
}
END_TEST

static int got_fd, got_sig;
static void on_fd(struct loop *l, int fd, int ev, void *arg)
{
    char buf[8];
    if (read(fd, buf, sizeof buf) > 0)
        got_fd++;
    loop_fd_del(l, fd);   /* removing itself from its own callback is allowed */
}
static void on_sig(struct loop *l, int signo, void *arg)
{
    got_sig = signo;
}

START_TEST(fds_and_signals)
{
    struct loop *l = loop_new();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    got_fd = got_sig = 0;
    ck_assert_int_eq(loop_fd_add(l, p[0], LOOP_READ, on_fd, NULL), 0);
    ck_assert_int_eq(loop_fd_add(l, p[0], LOOP_READ, on_fd, NULL), -1);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    loop_signal_add(l, SIGUSR1, on_sig, NULL);
    raise(SIGUSR1);
    double t0 = clock_mono();
    while ((!got_fd || !got_sig) && clock_mono() - t0 < 2)
        loop_once(l, 0.5);
    ck_assert_int_eq(got_fd, 1);
    ck_assert_int_eq(got_sig, SIGUSR1);
    /* nothing due: loop_once sleeps for max_wait rather than spinning */
    t0 = clock_mono();
    ck_assert_int_eq(loop_once(l, 0.05), 0);
    ck_assert(clock_mono() - t0 >= 0.045);
    loop_signal_del(l, SIGUSR1);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}
END_TEST

static int ndef;
static void deferred(struct loop *l, void *arg)
{
    ndef++;
}

START_TEST(defer_once_per_iteration)
{
    struct loop *l = loop_new();
    ndef = 0;
    loop_defer(l, deferred, NULL);
    loop_defer(l, deferred, NULL);
    loop_once(l, 0);
    ck_assert_int_eq(ndef, 1);
    loop_free(l);
}
END_TEST

Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, timers_in_order);
    tcase_add_test(tc, virtual_timer_follows_speed);
    tcase_add_test(tc, speed_change_keeps_virtual_time_continuous);
    tcase_add_test(tc, fds_and_signals);
    tcase_add_test(tc, defer_once_per_iteration);
    suite_add_tcase(s, tc);
    return s;
}
