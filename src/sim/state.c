/* state: the cell state file that the simulated instruments of one insitu session share, so
 * that the spectrometer sees the cell the cycler drives (see sim.h and insitu-sim(1)).
 *
 * Writers replace their own keys and keep everyone else's: the whole file is rewritten into a
 * temporary file in the same directory and renamed over the old one, so a reader sees the old
 * or the new file, never half of one; an flock on PATH.lock keeps two writers (the cycler and
 * a tuner) from losing each other's keys. Readers take no lock. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sim.h"

#define SIM_STATE_MAX (64 * 1024)    /* a state file is a few hundred bytes */

/* The keys of the cell, in the order written. */
static const char *const sim_state_cell_keys[] = {
    "writer", "model", "time", "current", "metal", "q", "throughput", "metal_a", "metal_b",
    "micro_a", "micro_b", "dead", "side", "rough_a", "rough_b", "polarity", "q_onset",
    "shorted", "r_short",
};

static int sim_state_is_cell_key(const char *key, size_t n)
{
    if (n > 5 && !strncmp(key, "cell.", 5))
        return 1;
    for (size_t i = 0; i < ARRAY_LEN(sim_state_cell_keys); i++)
        if (strlen(sim_state_cell_keys[i]) == n && !strncmp(key, sim_state_cell_keys[i], n))
            return 1;
    return 0;
}

static int sim_state_is_match_key(const char *key, size_t n)
{
    return n == 5 && !strncmp(key, "match", 5);
}

/* The file's text (NUL-terminated), or NULL with errno. */
static char *sim_state_slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    struct strbuf b = { 0 };
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && b.len < SIM_STATE_MAX)
        strbuf_add(&b, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        strbuf_free(&b);
        errno = EIO;
        return NULL;
    }
    return strbuf_take(&b);
}

/* Rewrite PATH with LINES ("key value\n"...) and the lines of the old file whose keys OWNS
 * does not claim. */
static int sim_state_update(const char *path, const char *lines,
                            int (*owns)(const char *key, size_t n), char *err, size_t errlen)
{
    char *lock = util_printf("%s.lock", path);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock);
    if (lfd >= 0)
        while (flock(lfd, LOCK_EX) < 0 && errno == EINTR)
            ;
    /* without a lock file (a read-only directory) the rename below fails anyway */
    struct strbuf out = { 0 };
    strbuf_addstr(&out, "# insitu-sim cell state: key value lines (insitu-sim(1), STATE FILE)\n");
    strbuf_addstr(&out, lines);
    char *old = sim_state_slurp(path);
    for (char *l = old; l && *l;) {
        char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        size_t k = strcspn(l, " \t\n");
        if (len && l[0] != '#' && k && !owns(l, k)) {
            strbuf_add(&out, l, len);
            strbuf_addch(&out, '\n');
        }
        l = nl ? nl + 1 : l + len;
    }
    free(old);
    char *tmp = util_printf("%s.%ld.tmp", path, (long)getpid());
    int rc = -1;
    FILE *f = fopen(tmp, "we");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    } else {
        int bad = fwrite(out.s, 1, out.len, f) != out.len;
        bad |= fclose(f) != 0;
        if (bad) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            unlink(tmp);
        } else if (rename(tmp, path) < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            unlink(tmp);
        } else {
            rc = 0;
        }
    }
    free(tmp);
    strbuf_free(&out);
    if (lfd >= 0)
        close(lfd);   /* releases the lock */
    return rc;
}

int sim_state_write_cell(const char *path, const char *writer, const char *model, double time,
                         double current, const struct cell_params *p,
                         const struct cell_state *s, char *err, size_t errlen)
{
    struct strbuf b = { 0 };
    /* %.17g: every double comes back exactly; the cell parameters in the units the cell
     * files use (cell_param_name), so the reader parses them as a cell file's lines. */
    strbuf_printf(&b, "writer %s\nmodel %s\ntime %.17g\ncurrent %.17g\nmetal %s\n", writer, model,
                  time, current, p->metal);
    strbuf_printf(&b, "q %.17g\nthroughput %.17g\nmetal_a %.17g\nmetal_b %.17g\n", s->q,
                  s->throughput, s->metal[CELL_A], s->metal[CELL_B]);
    strbuf_printf(&b, "micro_a %.17g\nmicro_b %.17g\ndead %.17g\nside %.17g\n", s->micro[CELL_A],
                  s->micro[CELL_B], s->dead, s->side);
    strbuf_printf(&b, "rough_a %.17g\nrough_b %.17g\npolarity %d\nq_onset %.17g\n",
                  s->rough[CELL_A], s->rough[CELL_B], s->polarity, s->q_onset);
    strbuf_printf(&b, "shorted %d\nr_short %.17g\n", s->shorted, s->r_short);
    for (int i = 1; i < cell_param_count(); i++) {
        const char *unit, *name = cell_param_name(i, &unit);
        strbuf_printf(&b, "cell.%s %.17g%s%s\n", name, cell_param_value(p, i),
                      strcmp(unit, "1") ? " " : "", strcmp(unit, "1") ? unit : "");
    }
    int rc = sim_state_update(path, b.s, sim_state_is_cell_key, err, errlen);
    strbuf_free(&b);
    return rc;
}

int sim_state_write_match(const char *path, const char *writer, double match, char *err,
                          size_t errlen)
{
    (void)writer;   /* the cycler's `writer` key names the cell's writer; match has one owner */
    char line[64];
    snprintf(line, sizeof line, "match %.17g\n", match);
    return sim_state_update(path, line, sim_state_is_match_key, err, errlen);
}

/* The value of KEY in TEXT ("key value" lines), or NULL. */
static const char *sim_state_get(const char *text, const char *key, char *buf, size_t len)
{
    size_t kn = strlen(key);
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n > kn && !strncmp(l, key, kn) && (l[kn] == ' ' || l[kn] == '\t')) {
            const char *v = l + kn;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vn = n - (size_t)(v - l);
            while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r'))
                vn--;
            if (vn >= len)
                return NULL;
            memcpy(buf, v, vn);
            buf[vn] = 0;
            return buf;
        }
        l = nl ? nl + 1 : l + n;
    }
    return NULL;
}

static int sim_state_num(const char *text, const char *key, double *out)
{
    char buf[128], *end;
    if (!sim_state_get(text, key, buf, sizeof buf))
        return -1;
    double v = strtod(buf, &end);
    if (end == buf || *end || isnan(v))
        return -1;
    *out = v;
    return 0;
}

int sim_state_read(const char *path, struct sim_state *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    char *text = sim_state_slurp(path);
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[128];
    double v;
    if (sim_state_num(text, "match", &v) == 0 && v >= 0 && v <= 1) {
        st->have_match = 1;
        st->match = v;
    }
    const char *metal = sim_state_get(text, "metal", buf, sizeof buf);
    int ok = metal && cell_params_default(&st->params, metal) == 0;
    struct { const char *key; double *var; } nums[] = {
        { "time", &st->time }, { "current", &st->current }, { "q", &st->cell.q },
        { "throughput", &st->cell.throughput }, { "metal_a", &st->cell.metal[CELL_A] },
        { "metal_b", &st->cell.metal[CELL_B] }, { "micro_a", &st->cell.micro[CELL_A] },
        { "micro_b", &st->cell.micro[CELL_B] }, { "dead", &st->cell.dead },
        { "side", &st->cell.side }, { "rough_a", &st->cell.rough[CELL_A] },
        { "rough_b", &st->cell.rough[CELL_B] }, { "q_onset", &st->cell.q_onset },
        { "r_short", &st->cell.r_short },
    };
    for (size_t i = 0; ok && i < ARRAY_LEN(nums); i++)
        ok = sim_state_num(text, nums[i].key, nums[i].var) == 0;
    double pol, sh;
    ok = ok && sim_state_num(text, "polarity", &pol) == 0 &&
         sim_state_num(text, "shorted", &sh) == 0;
    if (ok) {
        st->cell.polarity = pol > 0 ? 1 : pol < 0 ? -1 : 0;
        st->cell.shorted = sh != 0;
    }
    for (int i = 1; ok && i < cell_param_count(); i++) {
        char key[64], why[160];
        const char *name = cell_param_name(i, NULL);
        snprintf(key, sizeof key, "cell.%s", name);
        if (!sim_state_get(text, key, buf, sizeof buf) ||
            cell_param_set(&st->params, name, buf, why, sizeof why) < 0)
            ok = 0;
    }
    if (ok && cell_params_check(&st->params, buf, sizeof buf) < 0)
        ok = 0;
    if (ok) {
        st->have_cell = 1;
        if (!sim_state_get(text, "writer", st->writer, sizeof st->writer))
            st->writer[0] = 0;
        if (!sim_state_get(text, "model", st->model, sizeof st->model))
            st->model[0] = 0;
    }
    free(text);
    return 0;
}

void sim_state_advance(const struct sim_state *st, double t, struct cell_state *out)
{
    *out = st->cell;
    double dt = t - st->time;
    if (!(dt > 0) || !isfinite(dt))
        return;
    if (st->current == 0) {
        cell_step(out, &st->params, 0, dt);
        return;
    }
    double n = fmin(ceil(dt), 1e5);   /* beyond a day at once the steps grow past 1 s */
    double h = dt / n;
    for (long i = 0; i < (long)n; i++)
        cell_step(out, &st->params, st->current, h);
}
