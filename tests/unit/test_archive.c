/* Tests of the archive: the journal's encoding (round trip, torn and corrupt tails, junk), the
 * netCDF file (values, CF attributes, record counts), failures that leave nothing behind,
 * recovery, info and list, and a crash test that kills a writer at random moments. */
#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netcdf.h>
#include <zlib.h>

#include "insitu/archive.h"
#include "insitu/clock.h"
#include "insitu/journal.h"
#include "insitu/run.h"
#include "insitu/util.h"
#include "suites.h"

#define UTC0 1795563038.25      /* 2026-11-24T23:30:38.25Z */
#define STAMP "20261124T233038Z"
#define NPPM 256

/* ---- helpers ----------------------------------------------------------------------------- */

static char *tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    char *t = util_printf("%s/insitu-archive-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static void tmpdir_free(char *t)
{
    chmod(t, 0700);
    nftw(t, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int count_entries(const char *dir)
{
    char *cmd = util_printf("ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    free(cmd);
    return n;
}

static char *att_text(int ncid, int varid, const char *name)
{
    size_t len;
    nc_type type;
    if (nc_inq_att(ncid, varid, name, &type, &len) != NC_NOERR || type != NC_CHAR)
        return NULL;
    char *s = util_malloc(len + 1);
    ck_assert_int_eq(nc_get_att_text(ncid, varid, name, s), NC_NOERR);
    s[len] = '\0';
    return s;
}

static void assert_att(int ncid, int varid, const char *name, const char *want)
{
    char *s = att_text(ncid, varid, name);
    ck_assert_msg(s != NULL, "attribute %s missing", name);
    ck_assert_str_eq(s, want);
    free(s);
}

static int group(int ncid, const char *name)
{
    int gid;
    ck_assert_msg(nc_inq_grp_ncid(ncid, name, &gid) == NC_NOERR, "group %s missing", name);
    return gid;
}

static size_t dimlen(int gid, const char *name)
{
    int dimid;
    size_t len = 0;
    if (nc_inq_dimid(gid, name, &dimid) != NC_NOERR || nc_inq_dimlen(gid, dimid, &len) != NC_NOERR)
        return (size_t)-1;
    return len;
}

static int varid(int gid, const char *name)
{
    int v;
    ck_assert_msg(nc_inq_varid(gid, name, &v) == NC_NOERR, "variable %s missing", name);
    return v;
}

static const struct run_field ec_fields[] = {
    { "voltage", "V", "cell voltage", RUN_F64, NULL, 0, NULL },
    { "current", "A", "cell current", RUN_F64, NULL, 0, NULL },
    { "step", "1", "protocol step kind", RUN_I32, NULL, 0, "rest charge discharge" },
};

static const struct run_field nmr_fields[] = {
    { "spectrum", "1", "7Li NMR spectrum (magnitude)", RUN_F64, "ppm", NPPM, NULL },
    { "scans", "1", "number of scans", RUN_I32, NULL, 0, NULL },
};

struct fixture {
    struct run *run;
    struct run_table *ec, *nmr;
};

static void fixture_init(struct fixture *fx, const char *name)
{
    fx->run = run_new(name, UTC0, clock_now());
    char err[256];
    fx->ec = run_table_add(fx->run, "ec", NULL, ec_fields, 3, err, sizeof err);
    ck_assert_msg(fx->ec != NULL, "%s", err);
    fx->nmr = run_table_add(fx->run, "nmr", NULL, nmr_fields, 2, err, sizeof err);
    ck_assert_msg(fx->nmr != NULL, "%s", err);
}

static void fixture_axis(struct fixture *fx)
{
    double ppm[NPPM];
    for (int i = 0; i < NPPM; i++)
        ppm[i] = 300.0 - i * (600.0 / NPPM);
    ck_assert_int_eq(run_axis_set(fx->run, "nmr", "ppm", NPPM, "ppm", "chemical shift", ppm), 0);
}

static double ec_voltage(size_t i)
{
    return 3.0 + 0.001 * (double)i;
}

static int ec_append(struct fixture *fx, size_t i)
{
    union run_value v[3];
    v[0].f64 = ec_voltage(i);
    v[1].f64 = (i % 2 ? 1e-3 : -1e-3);
    v[2].i32 = (int32_t)(i % 3);
    return run_append(fx->ec, 0.5 * (double)i, v);
}

static double spectrum_point(size_t rec, int k)
{
    return (double)rec * 1000.0 + k;
}

static int nmr_append(struct fixture *fx, size_t rec)
{
    double s[NPPM];
    for (int k = 0; k < NPPM; k++)
        s[k] = spectrum_point(rec, k);
    union run_value v[2];
    v[0].arr = s;
    v[1].i32 = 64;
    return run_append(fx->nmr, 60.0 * (double)rec, v);
}

static char *run_file(const char *dir, const char *name)
{
    return util_printf("%s/%s-%s.nc", dir, STAMP, name);
}

/* ---- journal: encoding ------------------------------------------------------------------- */

struct collect {
    int n;
    struct strbuf log;      /* one line per entry, to compare */
};

static void collect_value(struct strbuf *log, const struct journal_value *v)
{
    switch (v->tag) {
    case JOURNAL_TAG_F64: strbuf_printf(log, " %.17g", v->v.f64); break;
    case JOURNAL_TAG_I32: strbuf_printf(log, " %d", (int)v->v.i32); break;
    case JOURNAL_TAG_STR: strbuf_printf(log, " '%s'", v->v.str); break;
    case JOURNAL_TAG_ARR:
        strbuf_printf(log, " [%zu: %.17g..%.17g]", v->len, v->v.arr[0], v->v.arr[v->len - 1]);
        break;
    }
}

static int collect_entry(void *arg, const struct journal_entry *e)
{
    struct collect *c = arg;
    c->n++;
    switch (e->type) {
    case JOURNAL_BEGIN:
        strbuf_printf(&c->log, "begin %s %.17g %s\n", e->begin.name, e->begin.utc0, e->begin.file);
        break;
    case JOURNAL_ATTR:
        strbuf_printf(&c->log, "attr %s %s", e->attr.group ? e->attr.group : "-", e->attr.key);
        if (e->attr.num)
            for (size_t i = 0; i < e->attr.n; i++)
                strbuf_printf(&c->log, " %.17g", e->attr.num[i]);
        else
            strbuf_printf(&c->log, " '%s'", e->attr.text);
        strbuf_addch(&c->log, '\n');
        break;
    case JOURNAL_TABLE:
        strbuf_printf(&c->log, "table %u %s %s", e->table.id, e->table.group, e->table.recdim);
        for (int i = 0; i < e->table.nfields; i++) {
            const struct run_field *f = &e->table.fields[i];
            strbuf_printf(&c->log, " [%s %s '%s' %d %s %zu %s]", f->name, f->units, f->long_name,
                          (int)f->type, f->dim ? f->dim : "-", f->len, f->flags ? f->flags : "-");
        }
        strbuf_addch(&c->log, '\n');
        break;
    case JOURNAL_AXIS:
        strbuf_printf(&c->log, "axis %s %s %s '%s' %zu %.17g %.17g\n", e->axis.group, e->axis.dim,
                      e->axis.units, e->axis.long_name, e->axis.len, e->axis.values[0],
                      e->axis.values[e->axis.len - 1]);
        break;
    case JOURNAL_RECORD:
        strbuf_printf(&c->log, "record %u %.17g", e->record.id, e->record.time);
        for (int i = 0; i < e->record.nvalues; i++)
            collect_value(&c->log, &e->record.values[i]);
        strbuf_addch(&c->log, '\n');
        break;
    case JOURNAL_END:
        strbuf_printf(&c->log, "end '%s' %.17g %.17g\n", e->end.reason, e->end.duration,
                      e->end.utc);
        break;
    case JOURNAL_FIELD: {
        const struct run_field *f = &e->field.def;
        strbuf_printf(&c->log, "field %u [%s %s '%s' %d %s %zu %s]\n", e->field.id, f->name,
                      f->units, f->long_name, (int)f->type, f->dim ? f->dim : "-", f->len,
                      f->flags ? f->flags : "-");
        break;
    }
    case JOURNAL_UPDATE: {
        const struct journal_value *v = &e->update.value;
        strbuf_printf(&c->log, "update %u %llu %u", e->update.id,
                      (unsigned long long)e->update.index, e->update.field);
        collect_value(&c->log, v);
        strbuf_addch(&c->log, '\n');
        break;
    }
    }
    return 0;
}

/* A journal image of a small run; *ENDS gets the offset after each entry. */
static void sample_journal(struct strbuf *b, size_t *ends, int *n)
{
    struct fixture fx;
    fixture_init(&fx, "j1");
    fixture_axis(&fx);
    run_attr_text(fx.run, NULL, "operator", "Ada \"quoted\" Lovelace");
    double mass[2] = { 1.5e-3, -0.0 };
    run_attr_num(fx.run, "ec", "mass", mass, 2);
    strbuf_add(b, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
    *n = 0;
#define MARK() (ends[(*n)++] = b->len)
    journal_encode_begin(b, fx.run->name, UTC0, STAMP "-j1.nc");
    MARK();
    for (int i = 0; i < fx.run->nattrs; i++) {
        journal_encode_attr(b, &fx.run->attrs[i]);
        MARK();
    }
    for (int i = 0; i < fx.run->ntables; i++) {
        journal_encode_table(b, fx.run->tables[i]);
        MARK();
    }
    journal_encode_axis(b, &fx.run->axes[0]);
    MARK();
    union run_value v[3] = { { .f64 = 3.25 }, { .f64 = -NAN }, { .i32 = -7 } };
    journal_encode_record(b, fx.ec, 1.5, v);
    MARK();
    union run_value lv[2] = { { .i32 = RUN_WARN }, { .str = "over-voltage: 4.3 V\tüñí" } };
    journal_encode_record(b, fx.run->log, 2.0, lv);
    MARK();
    double s[NPPM];
    for (int k = 0; k < NPPM; k++)
        s[k] = spectrum_point(3, k);
    union run_value nv[2] = { { .arr = s }, { .i32 = 128 } };
    journal_encode_record(b, fx.nmr, 60.0, nv);
    MARK();
    /* A field defined later, a record with it, and updates of each kind of value. */
    static const struct run_field later = { "integral_metal", "1", "integral 240..252 ppm",
                                            RUN_F64, NULL, 0, NULL };
    ck_assert_int_eq(run_field_add(fx.nmr, &later, NULL, 0), 0);
    journal_encode_field(b, fx.nmr, 2);
    MARK();
    union run_value nv3[3] = { { .arr = s }, { .i32 = 256 }, { .f64 = 0.125 } };
    journal_encode_record(b, fx.nmr, 120.0, nv3);
    MARK();
    union run_value u = { .f64 = 2.5e-7 };
    journal_encode_update(b, fx.nmr, 0, 2, &u);
    MARK();
    for (int k = 0; k < NPPM; k++)
        s[k] = -spectrum_point(4, k);
    u.arr = s;
    journal_encode_update(b, fx.nmr, 1, 0, &u);
    MARK();
    u.i32 = -3;
    journal_encode_update(b, fx.ec, 0x100000000ull, 2, &u);   /* an index beyond 32 bits */
    MARK();
    u.str = "re-read";
    journal_encode_update(b, fx.run->log, 0, 1, &u);
    MARK();
    journal_encode_end(b, "done", 61.0, UTC0 + 61.0);
    MARK();
#undef MARK
    run_free(fx.run);
}

START_TEST(journal_roundtrip)
{
    struct strbuf b = { 0 };
    size_t ends[32];
    int n;
    sample_journal(&b, ends, &n);
    struct collect c = { 0 };
    struct journal_scan res;
    journal_scan(b.s, b.len, collect_entry, &c, &res);
    ck_assert_int_eq(res.status, JOURNAL_EOF);
    ck_assert_uint_eq(res.entries, (size_t)n);
    ck_assert_uint_eq(res.good_bytes, b.len);
    ck_assert_int_eq(c.n, n);
    const char *want =
        "begin j1 1795563038.25 " STAMP "-j1.nc\n"
        "attr - operator 'Ada \"quoted\" Lovelace'\n"
        "attr ec mass 0.0015 -0\n"
        "table 0 log time [level 1 'event level' 2 - 0 debug info note warning error] "
        "[text 1 'event text' 3 - 0 -]\n"
        "table 1 ec time [voltage V 'cell voltage' 1 - 0 -] [current A 'cell current' 1 - 0 -] "
        "[step 1 'protocol step kind' 2 - 0 rest charge discharge]\n"
        "table 2 nmr time [spectrum 1 '7Li NMR spectrum (magnitude)' 1 ppm 256 -] "
        "[scans 1 'number of scans' 2 - 0 -]\n"
        "axis nmr ppm ppm 'chemical shift' 256 300 -297.65625\n"
        "record 1 1.5 3.25 -nan -7\n"
        "record 0 2 3 'over-voltage: 4.3 V\tüñí'\n"
        "record 2 60 [256: 3000..3255] 128\n"
        "field 2 [integral_metal 1 'integral 240..252 ppm' 1 - 0 -]\n"
        "record 2 120 [256: 3000..3255] 256 0.125\n"
        "update 2 0 2 2.4999999999999999e-07\n"
        "update 2 1 0 [256: -4000..-4255]\n"
        "update 1 4294967296 2 -3\n"
        "update 0 0 1 're-read'\n"
        "end 'done' 61 1795563099.25\n";
    ck_assert_str_eq(c.log.s, want);
    strbuf_free(&c.log);
    strbuf_free(&b);
}
END_TEST

START_TEST(journal_little_endian)
{
    /* The format is fixed whatever the host: check the bytes of one entry. */
    struct strbuf b = { 0 };
    journal_encode_end(&b, "x", 1.0, 0.0);
    const unsigned char *p = (const unsigned char *)b.s;
    ck_assert_uint_eq(b.len, 9 + 4 + 1 + 8 + 8);
    ck_assert_uint_eq(p[0], 21);
    ck_assert_uint_eq(p[1] | p[2] | p[3], 0);
    ck_assert_uint_eq(p[8], JOURNAL_END);
    ck_assert_uint_eq(p[9], 1);         /* string length 1, little-endian */
    ck_assert_uint_eq(p[13], 'x');
    /* 1.0 = 0x3ff0000000000000: the last two bytes, little-endian */
    ck_assert_uint_eq(p[14 + 6], 0xf0);
    ck_assert_uint_eq(p[14 + 7], 0x3f);
    strbuf_free(&b);
}
END_TEST

START_TEST(journal_torn_tail)
{
    struct strbuf b = { 0 };
    size_t ends[32];
    int n;
    sample_journal(&b, ends, &n);
    /* Every cut inside any entry keeps all the entries before it. */
    for (int last = n - 1; last >= 1; last--) {
        size_t from = ends[last - 1];
        for (size_t cut = from; cut < ends[last]; cut++) {
            struct journal_scan res;
            journal_scan(b.s, cut, NULL, NULL, &res);
            ck_assert_uint_eq(res.entries, (size_t)last);
            ck_assert_uint_eq(res.good_bytes, from);
            ck_assert_int_eq(res.status, cut == from ? JOURNAL_EOF : JOURNAL_TORN);
            if (cut != from)
                ck_assert_int_eq(res.at_tail, 1);
        }
    }
    /* A cut inside the magic: a journal whose creation never finished. */
    for (size_t cut = 0; cut < JOURNAL_MAGIC_LEN; cut++) {
        struct journal_scan res;
        journal_scan(b.s, cut, NULL, NULL, &res);
        ck_assert_uint_eq(res.entries, 0);
        ck_assert_int_eq(res.status, JOURNAL_TORN);
        ck_assert_int_eq(res.bad_magic, 0);
    }
    strbuf_free(&b);
}
END_TEST

START_TEST(journal_corrupt)
{
    struct strbuf b = { 0 };
    size_t ends[32];
    int n;
    sample_journal(&b, ends, &n);
    /* A flipped bit in any byte of entry 4 (header or payload) stops the scan there. */
    for (size_t off = ends[3]; off < ends[4]; off++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b.s[off] ^= (char)(1 << bit);
            struct journal_scan res;
            journal_scan(b.s, b.len, NULL, NULL, &res);
            ck_assert_uint_eq(res.entries, 4);
            ck_assert_uint_eq(res.good_bytes, ends[3]);
            ck_assert_int_ne(res.status, JOURNAL_EOF);
            b.s[off] ^= (char)(1 << bit);
        }
    }
    /* The same in the FIELD and UPDATE entries. */
    for (int i = 1; i < n; i++) {
        int type = (unsigned char)b.s[ends[i - 1] + 8];
        if (type != JOURNAL_FIELD && type != JOURNAL_UPDATE)
            continue;
        for (size_t off = ends[i - 1]; off < ends[i]; off += 1 + (ends[i] - ends[i - 1]) / 97) {
            b.s[off] ^= 0x21;
            struct journal_scan res;
            journal_scan(b.s, b.len, NULL, NULL, &res);
            ck_assert_uint_eq(res.entries, (size_t)i);
            ck_assert_int_ne(res.status, JOURNAL_EOF);     /* TORN: a length made longer */
            b.s[off] ^= 0x21;
        }
    }
    /* In the payload of the last entry: corrupt, but at the tail. */
    b.s[b.len - 3] ^= 0x10;
    struct journal_scan res;
    journal_scan(b.s, b.len, NULL, NULL, &res);
    ck_assert_int_eq(res.status, JOURNAL_CORRUPT);
    ck_assert_int_eq(res.at_tail, 1);
    ck_assert_uint_eq(res.entries, (size_t)n - 1);
    b.s[b.len - 3] ^= 0x10;
    /* In the middle: not at the tail. */
    b.s[ends[2] + 12] ^= 0x01;
    journal_scan(b.s, b.len, NULL, NULL, &res);
    ck_assert_int_eq(res.status, JOURNAL_CORRUPT);
    ck_assert_int_eq(res.at_tail, 0);
    ck_assert_uint_eq(res.entries, 3);
    b.s[ends[2] + 12] ^= 0x01;
    /* Not a journal. */
    b.s[3] = 'X';
    journal_scan(b.s, b.len, NULL, NULL, &res);
    ck_assert_int_eq(res.bad_magic, 1);
    ck_assert_uint_eq(res.entries, 0);
    strbuf_free(&b);
}
END_TEST

/* Re-frame PAYLOAD as an entry of TYPE with a correct CRC: the decoder must then reject bad
 * contents by itself, not count on the CRC. */
static enum journal_status decode_framed(enum journal_type type, const unsigned char *payload,
                                         size_t len)
{
    struct strbuf b = { 0 };
    unsigned char hdr[9] = { 0 };
    strbuf_add(&b, (const char *)hdr, 9);
    strbuf_add(&b, (const char *)payload, len);
    unsigned char *p = (unsigned char *)b.s;
    p[8] = (unsigned char)type;
    uLong crc = crc32(0L, p + 8, (uInt)len + 1);
    for (int k = 0; k < 4; k++) {
        p[k] = (unsigned char)(len >> (8 * k));
        p[4 + k] = (unsigned char)(crc >> (8 * k));
    }
    struct journal_entry e;
    size_t used;
    enum journal_status st = journal_decode(b.s, b.len, &e, &used);
    if (st == JOURNAL_OK) {
        ck_assert_uint_eq(used, b.len);
        journal_entry_free(&e);
    }
    strbuf_free(&b);
    return st;
}

START_TEST(journal_junk)
{
    struct strbuf b = { 0 };
    size_t ends[32];
    int n;
    sample_journal(&b, ends, &n);
    unsigned seed = 12345;
    /* Payloads of every valid entry, cut short or mutated, with a valid CRC. */
    for (int i = 0; i < n; i++) {
        size_t start = i ? ends[i - 1] : JOURNAL_MAGIC_LEN;
        const unsigned char *e = (const unsigned char *)b.s + start;
        size_t plen = ends[i] - start - 9;
        enum journal_type type = (enum journal_type)e[8];
        ck_assert_int_eq(decode_framed(type, e + 9, plen), JOURNAL_OK);
        for (size_t cut = 0; cut < plen; cut += 1 + plen / 64)
            ck_assert_int_eq(decode_framed(type, e + 9, cut), JOURNAL_CORRUPT);
        unsigned char *m = util_malloc(plen + 1);
        for (int round = 0; round < 300; round++) {
            memcpy(m, e + 9, plen);
            int flips = 1 + rand_r(&seed) % 4;
            for (int f = 0; f < flips; f++)
                m[(size_t)rand_r(&seed) % plen] = (unsigned char)rand_r(&seed);
            decode_framed(type, m, plen);   /* any answer, but no bad read (ASan) */
            decode_framed((enum journal_type)(rand_r(&seed) % 10), m, plen);
        }
        free(m);
    }
    /* Random images behind a valid magic. */
    unsigned char img[512];
    memcpy(img, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
    for (int round = 0; round < 2000; round++) {
        size_t len = JOURNAL_MAGIC_LEN + (size_t)rand_r(&seed) % (sizeof img - JOURNAL_MAGIC_LEN);
        for (size_t k = JOURNAL_MAGIC_LEN; k < len; k++)
            img[k] = (unsigned char)rand_r(&seed);
        struct journal_scan res;
        journal_scan(img, len, collect_entry, &(struct collect){ 0 }, &res);
        ck_assert_int_ne(res.status, JOURNAL_OK);
    }
    /* Huge counts must not allocate what the input does not hold. */
    unsigned char huge[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
    ck_assert_int_eq(decode_framed(JOURNAL_RECORD, huge, sizeof huge), JOURNAL_CORRUPT);
    ck_assert_int_eq(decode_framed(JOURNAL_TABLE, huge, sizeof huge), JOURNAL_CORRUPT);
    ck_assert_int_eq(decode_framed(JOURNAL_AXIS, huge, sizeof huge), JOURNAL_CORRUPT);
    /* An UPDATE with an array longer than the entry; FIELDs no writer makes. */
    unsigned char upd[30] = { 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, JOURNAL_TAG_ARR,
                              0xff, 0xff, 0xff, 0xff };        /* then one f64 and one byte */
    ck_assert_int_eq(decode_framed(JOURNAL_UPDATE, upd, sizeof upd), JOURNAL_CORRUPT);
    upd[17] = 1;
    upd[18] = upd[19] = upd[20] = 0;
    ck_assert_int_eq(decode_framed(JOURNAL_UPDATE, upd, 29), JOURNAL_OK);
    ck_assert_int_eq(decode_framed(JOURNAL_UPDATE, upd, 28), JOURNAL_CORRUPT);    /* short */
    ck_assert_int_eq(decode_framed(JOURNAL_UPDATE, upd, 30), JOURNAL_CORRUPT);    /* trailing */
    upd[16] = 9;                                                    /* no such tag */
    ck_assert_int_eq(decode_framed(JOURNAL_UPDATE, upd, 29), JOURNAL_CORRUPT);
    /* field: id, name "x", units "", long_name "", type, dim, len, flags "" */
    unsigned char fld[] = { 0, 0, 0, 0, 1, 0, 0, 0, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 1,
                            1, 0, 0, 0, 'p', 0, 0, 0, 0, 0, 0, 0, 0 };
    ck_assert_int_eq(decode_framed(JOURNAL_FIELD, fld, sizeof fld), JOURNAL_CORRUPT); /* len 0 */
    fld[23] = 8;
    ck_assert_int_eq(decode_framed(JOURNAL_FIELD, fld, sizeof fld), JOURNAL_OK);
    fld[17] = 2;                                                    /* an int array */
    ck_assert_int_eq(decode_framed(JOURNAL_FIELD, fld, sizeof fld), JOURNAL_CORRUPT);
    fld[17] = 4;                                                    /* no such type */
    ck_assert_int_eq(decode_framed(JOURNAL_FIELD, fld, sizeof fld), JOURNAL_CORRUPT);
    fld[17] = 1;
    fld[26] = 0x40;                                                 /* 2^30 + 8 points */
    ck_assert_int_eq(decode_framed(JOURNAL_FIELD, fld, sizeof fld), JOURNAL_CORRUPT);
    strbuf_free(&b);
}
END_TEST

START_TEST(journal_file)
{
    char *dir = tmpdir_new();
    char *path = util_printf("%s/j.journal", dir);
    char err[512];
    struct journal *j = journal_create(path, err, sizeof err);
    ck_assert_msg(j != NULL, "%s", err);
    ck_assert_int_eq(journal_locked(path), 1);
    ck_assert_ptr_null(journal_create(path, err, sizeof err));     /* exclusive */
    ck_assert_msg(strstr(err, "exists") != NULL, "%s", err);
    struct strbuf b = { 0 };
    journal_encode_begin(&b, "r", UTC0, "r.nc");
    journal_encode_end(&b, "done", 1, 2);
    ck_assert_int_eq(journal_write(j, b.s, b.len), 0);
    ck_assert_int_eq(journal_fsync(j), 0);
    ck_assert_int_eq(journal_close(j), 0);
    ck_assert_int_eq(journal_locked(path), 0);
    struct journal_scan res;
    ck_assert_int_eq(journal_read(path, NULL, NULL, &res, err, sizeof err), 0);
    ck_assert_uint_eq(res.entries, 2);
    ck_assert_int_eq(res.status, JOURNAL_EOF);
    ck_assert_int_eq(journal_locked("/nonexistent/x"), -1);
    ck_assert_int_eq(journal_read("/nonexistent/x", NULL, NULL, &res, err, sizeof err), -1);
    strbuf_free(&b);
    free(path);
    tmpdir_free(dir);
}
END_TEST

/* ---- the netCDF file --------------------------------------------------------------------- */

/* Every variable of every group has units and long_name: the CF rule the archive promises. */
static void assert_cf_variables(int ncid)
{
    int ng;
    int gids[64];
    ck_assert_int_eq(nc_inq_grps(ncid, &ng, gids), NC_NOERR);
    for (int g = 0; g < ng; g++) {
        int nv;
        int vids[256];
        ck_assert_int_eq(nc_inq_varids(gids[g], &nv, vids), NC_NOERR);
        for (int v = 0; v < nv; v++) {
            char name[NC_MAX_NAME + 1];
            nc_inq_varname(gids[g], vids[v], name);
            char *u = att_text(gids[g], vids[v], "units");
            char *l = att_text(gids[g], vids[v], "long_name");
            ck_assert_msg(u && *u, "%s has no units", name);
            ck_assert_msg(l && *l, "%s has no long_name", name);
            free(u);
            free(l);
        }
    }
}

START_TEST(archive_write_and_read)
{
    char *dir = tmpdir_new();
    char *sub = util_printf("%s/runs/2026", dir);       /* created by archive_create */
    struct fixture fx;
    fixture_init(&fx, "li1");
    run_attr_text(fx.run, NULL, "title", "Li plating in situ");
    run_attr_text(fx.run, NULL, "cell", "Li|LiPF6|Li");
    /* Records that exist before the archive are written too (run_replay). */
    ck_assert_int_eq(ec_append(&fx, 0), 0);
    char err[512];
    struct archive *a = archive_create(fx.run, sub, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    char *path = run_file(sub, "li1");
    char *jpath = util_printf("%s.journal", path);
    ck_assert_str_eq(archive_path(a), path);
    ck_assert(exists(jpath));
    fixture_axis(&fx);
    double mass = 1.25e-3;
    run_attr_num(fx.run, "ec", "electrode_mass", &mass, 1);
    run_attr_text(fx.run, NULL, "institution", "Lab of Examples");
    const size_t NEC = 1500, NNMR = 7;
    for (size_t i = 1; i < NEC; i++)
        ck_assert_int_eq(ec_append(&fx, i), 0);
    ck_assert_int_eq(archive_dirty(a), 1);
    ck_assert_int_eq(archive_sync(a), 0);
    ck_assert_int_eq(archive_dirty(a), 0);
    for (size_t i = 0; i < NNMR; i++)
        ck_assert_int_eq(nmr_append(&fx, i), 0);
    ck_assert_int_eq(archive_dirty(a), 0);     /* array records are synced at once */
    run_event_at(fx.run, 10.0, RUN_INFO, "cycling started");
    run_event_at(fx.run, 20.0, RUN_WARN, "temperature 31.5 °C");
    run_end(fx.run, "protocol done");
    ck_assert_ptr_null(archive_error(a));
    ck_assert_int_eq(archive_close(a, err, sizeof err), 0);
    ck_assert(!exists(jpath));

    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    int fmt;
    nc_inq_format(ncid, &fmt);
    ck_assert_int_eq(fmt, NC_FORMAT_NETCDF4);
    assert_att(ncid, NC_GLOBAL, "Conventions", "CF-1.8");
    assert_att(ncid, NC_GLOBAL, "title", "Li plating in situ");
    assert_att(ncid, NC_GLOBAL, "institution", "Lab of Examples");
    assert_att(ncid, NC_GLOBAL, "source", "insitu " INSITU_VERSION);
    assert_att(ncid, NC_GLOBAL, "date_created", "2026-11-24T23:30:38Z");
    assert_att(ncid, NC_GLOBAL, "insitu_run_name", "li1");
    assert_att(ncid, NC_GLOBAL, "insitu_state", "complete");
    assert_att(ncid, NC_GLOBAL, "insitu_end_reason", "protocol done");
    assert_att(ncid, NC_GLOBAL, "cell", "Li|LiPF6|Li");
    char *hist = att_text(ncid, NC_GLOBAL, "history");
    ck_assert_msg(hist && strstr(hist, " insitu " INSITU_VERSION ": run li1 started"), "%s", hist);
    free(hist);

    int ec = group(ncid, "ec"), nmr = group(ncid, "nmr"), lg = group(ncid, "log");
    ck_assert_uint_eq(dimlen(ec, "time"), NEC);
    ck_assert_uint_eq(dimlen(nmr, "time"), NNMR);
    ck_assert_uint_eq(dimlen(nmr, "ppm"), NPPM);
    ck_assert_uint_eq(dimlen(lg, "time"), 2);
    double m;
    ck_assert_int_eq(nc_get_att_double(ec, NC_GLOBAL, "electrode_mass", &m), NC_NOERR);
    ck_assert(m == mass);

    int tv = varid(ec, "time");
    assert_att(ec, tv, "units", "seconds since 2026-11-24T23:30:38.250Z");
    assert_att(ec, tv, "standard_name", "time");
    assert_att(ec, tv, "axis", "T");
    assert_att(ec, tv, "calendar", "standard");
    assert_att(ec, varid(ec, "voltage"), "units", "V");
    assert_att(ec, varid(ec, "voltage"), "long_name", "cell voltage");
    assert_att(ec, varid(ec, "step"), "flag_meanings", "rest charge discharge");
    assert_att(lg, varid(lg, "level"), "flag_meanings", RUN_LEVEL_NAMES);
    int flags[8];
    size_t nflags;
    ck_assert_int_eq(nc_inq_attlen(lg, varid(lg, "level"), "flag_values", &nflags), NC_NOERR);
    ck_assert_uint_eq(nflags, 5);
    nc_get_att_int(lg, varid(lg, "level"), "flag_values", flags);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(flags[i], i);
    assert_att(nmr, varid(nmr, "ppm"), "units", "ppm");
    assert_att(nmr, varid(nmr, "ppm"), "long_name", "chemical shift");
    assert_cf_variables(ncid);

    double *vals = util_calloc(NEC, sizeof *vals);
    size_t start[2] = { 0, 0 }, count[2] = { NEC, NPPM };
    ck_assert_int_eq(nc_get_vara_double(ec, varid(ec, "voltage"), start, count, vals), NC_NOERR);
    for (size_t i = 0; i < NEC; i++)
        ck_assert(vals[i] == ec_voltage(i));
    ck_assert_int_eq(nc_get_vara_double(ec, tv, start, count, vals), NC_NOERR);
    ck_assert(vals[NEC - 1] == 0.5 * (double)(NEC - 1));
    int *steps = util_calloc(NEC, sizeof *steps);
    ck_assert_int_eq(nc_get_vara_int(ec, varid(ec, "step"), start, count, steps), NC_NOERR);
    ck_assert_int_eq(steps[5], 2);
    free(steps);
    free(vals);
    double *spec = util_calloc(NNMR * NPPM, sizeof *spec);
    count[0] = NNMR;
    ck_assert_int_eq(nc_get_vara_double(nmr, varid(nmr, "spectrum"), start, count, spec), NC_NOERR);
    for (size_t r = 0; r < NNMR; r++)
        for (int k = 0; k < NPPM; k += 17)
            ck_assert(spec[r * NPPM + (size_t)k] == spectrum_point(r, k));
    free(spec);
    double ppm[NPPM];
    ck_assert_int_eq(nc_get_var_double(nmr, varid(nmr, "ppm"), ppm), NC_NOERR);
    ck_assert(ppm[0] == 300.0);
    char *text[2] = { NULL, NULL };
    count[0] = 2;
    ck_assert_int_eq(nc_get_vara_string(lg, varid(lg, "text"), start, count, text), NC_NOERR);
    ck_assert_str_eq(text[1], "temperature 31.5 °C");
    nc_free_string(2, text);
    nc_close(ncid);

    struct strbuf out = { 0 };
    ck_assert_int_eq(archive_info(path, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "run: li1 (complete)\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  started: 2026-11-24T23:30:38Z\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  source: insitu " INSITU_VERSION "\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  cell: Li|LiPF6|Li\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "group ec: 1500 records\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "group nmr: 7 records\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "group log: 2 records\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  voltage(time) V \"cell voltage\"\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  spectrum(time,ppm) 1 \"7Li NMR spectrum (magnitude)\"\n"), "%s",
                  out.s);
    ck_assert_msg(strstr(out.s, "flags: debug info note warning error"), "%s", out.s);
    strbuf_reset(&out);
    ck_assert_int_eq(archive_list(sub, &out, err, sizeof err), 0);
    ck_assert_str_eq(out.s, STAMP "-li1.nc  2026-11-24T23:30:38Z  li1  1509 records  complete\n");
    strbuf_free(&out);

    run_free(fx.run);
    free(path);
    free(jpath);
    free(sub);
    tmpdir_free(dir);
}
END_TEST

START_TEST(archive_refuses_overwrite)
{
    char *dir = tmpdir_new();
    struct fixture fx;
    fixture_init(&fx, "li2");
    char err[512];
    struct archive *a = archive_create(fx.run, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    ec_append(&fx, 0);
    ck_assert_int_eq(archive_close(a, err, sizeof err), 0);
    char *path = run_file(dir, "li2");
    struct stat st0, st1;
    ck_assert_int_eq(stat(path, &st0), 0);
    /* Same run name, same start second: the same file name. */
    struct run *again = run_new("li2", UTC0 + 0.5, clock_now());
    ck_assert_ptr_null(archive_create(again, dir, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "exists"), "%s", err);
    ck_assert_int_eq(stat(path, &st1), 0);
    ck_assert(st0.st_size == st1.st_size && st0.st_mtime == st1.st_mtime);
    ck_assert_int_eq(count_entries(dir), 1);
    /* A journal left by a crash also blocks the name. */
    unlink(path);
    char *jpath = util_printf("%s.journal", path);
    int fd = open(jpath, O_CREAT | O_WRONLY, 0644);
    close(fd);
    ck_assert_ptr_null(archive_create(again, dir, err, sizeof err));
    ck_assert_msg(strstr(err, "exists"), "%s", err);
    ck_assert(!exists(path));
    ck_assert(exists(jpath));
    run_free(again);
    run_free(fx.run);
    free(jpath);
    free(path);
    tmpdir_free(dir);
}
END_TEST

START_TEST(archive_unwritable)
{
    char *dir = tmpdir_new();
    char *file = util_printf("%s/plain-file", dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct fixture fx;
    fixture_init(&fx, "li3");
    char err[512];
    /* Under a regular file: fails even for root. */
    char *bad = util_printf("%s/sub/deeper", file);
    ck_assert_ptr_null(archive_create(fx.run, bad, err, sizeof err));
    ck_assert_msg(strstr(err, "Not a directory") && strstr(err, "cannot create archive"), "%s", err);
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_eq(fx.run->nobs, 0);
    /* Directories that archive_create made are removed again when it fails later. */
    char *ro = util_printf("%s/ro", dir);
    mkdir(ro, 0555);
    chmod(ro, 0555);
    char *deep = util_printf("%s/a/b", ro);
    struct archive *a = archive_create(fx.run, deep, err, sizeof err);
    if (geteuid() != 0) {
        ck_assert_ptr_null(a);
        ck_assert_msg(strstr(err, "Permission denied"), "%s", err);
        ck_assert_int_eq(count_entries(ro), 0);
    } else if (a) {
        archive_abandon(a);     /* root writes anyway: nothing to check */
    }
    /* A file cannot be created: the journal goes first and its error is the message. */
    if (geteuid() != 0) {
        ck_assert_ptr_null(archive_create(fx.run, ro, err, sizeof err));
        char *path = run_file(ro, "li3");
        char *want = util_printf("cannot create archive %s: Permission denied", path);
        ck_assert_str_eq(err, want);
        free(want);
        free(path);
        ck_assert_int_eq(count_entries(ro), 0);
    }
    /* An invalid run name never reaches the file system. */
    struct run *r = run_new("../escape", UTC0, clock_now());
    ck_assert_ptr_null(archive_create(r, dir, err, sizeof err));
    ck_assert_msg(strstr(err, "invalid run name"), "%s", err);
    run_free(r);
    run_free(fx.run);
    free(deep);
    free(ro);
    free(bad);
    free(file);
    tmpdir_free(dir);
}
END_TEST

/* ---- recovery ---------------------------------------------------------------------------- */

/* A run with NEC scalar and NNMR array records, abandoned as a crash would leave it. */
static char *abandoned_run(const char *dir, const char *name, size_t nec, size_t nnmr, int end)
{
    struct fixture fx;
    fixture_init(&fx, name);
    run_attr_text(fx.run, NULL, "cell", "Li|Li");
    char err[512];
    struct archive *a = archive_create(fx.run, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    fixture_axis(&fx);
    for (size_t i = 0; i < nec; i++)
        ck_assert_int_eq(ec_append(&fx, i), 0);
    for (size_t i = 0; i < nnmr; i++)
        ck_assert_int_eq(nmr_append(&fx, i), 0);
    run_event(fx.run, RUN_NOTE, "about to crash");
    if (end)
        run_end(fx.run, "aborted by user");
    archive_abandon(a);
    run_free(fx.run);
    return run_file(dir, name);
}

static void assert_counts(const char *path, size_t nec, size_t nnmr, const char *state)
{
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    ck_assert_uint_eq(dimlen(group(ncid, "ec"), "time"), nec);
    ck_assert_uint_eq(dimlen(group(ncid, "nmr"), "time"), nnmr);
    assert_att(ncid, NC_GLOBAL, "insitu_state", state);
    assert_att(ncid, NC_GLOBAL, "cell", "Li|Li");
    assert_cf_variables(ncid);
    if (nec) {
        double v;
        size_t i = nec - 1;
        ck_assert_int_eq(nc_get_var1_double(group(ncid, "ec"), varid(group(ncid, "ec"), "voltage"),
                                            &i, &v), NC_NOERR);
        ck_assert(v == ec_voltage(i));
    }
    nc_close(ncid);
}

START_TEST(archive_recover_abandoned)
{
    char *dir = tmpdir_new();
    char *path = abandoned_run(dir, "li4", 300, 3, 1);
    char *jpath = util_printf("%s.journal", path);
    ck_assert(exists(jpath));
    struct strbuf out = { 0 };
    char err[512], msg[1024];
    ck_assert_int_eq(archive_list(dir, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "  li4  ") && strstr(out.s, "  needs recovery\n"), "%s", out.s);
    strbuf_reset(&out);
    ck_assert_int_eq(archive_info(path, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "run: li4 (needs recovery)\n"), "%s", out.s);
    strbuf_reset(&out);

    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), 0);
    char *want = util_printf("recovered %s: 303 records in 2 groups, 1 events (journal: ", path);
    ck_assert_msg(util_startswith(msg, want), "%s", msg);
    ck_assert_msg(strstr(msg, "torn tail: no)"), "%s", msg);
    free(want);
    assert_counts(path, 300, 3, "recovered");
    char *damaged = util_printf("%s.damaged", path);
    ck_assert(exists(damaged));
    ck_assert(!exists(jpath));       /* everything applied: the journal is not needed */
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    assert_att(ncid, NC_GLOBAL, "insitu_end_reason", "aborted by user");
    nc_close(ncid);
    ck_assert_int_eq(archive_list(dir, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "  li4  304 records  recovered\n"), "%s", out.s);
    strbuf_free(&out);

    /* Again: nothing to do, and it says why. */
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "no journal beside") && strstr(msg, "needs no recovery"), "%s", msg);
    free(damaged);
    free(jpath);
    free(path);
    tmpdir_free(dir);
}
END_TEST

START_TEST(archive_recover_torn_and_damaged)
{
    char *dir = tmpdir_new();
    char *path = abandoned_run(dir, "li5", 50, 2, 0);
    char *jpath = util_printf("%s.journal", path);
    /* Lose the end of the last entry (the event) and wreck the file itself. */
    struct stat st;
    ck_assert_int_eq(stat(jpath, &st), 0);
    ck_assert_int_eq(truncate(jpath, st.st_size - 3), 0);
    int fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "garbage", 7), 7);
    close(fd);
    char err[512], msg[1024];
    struct strbuf out = { 0 };
    ck_assert_int_eq(archive_info(path, &out, err, sizeof err), -1);
    ck_assert_msg(util_startswith(err, path) && strstr(err, ": cannot open: ") &&
                  strstr(err, "; a journal exists: run `archive recover "), "%s", err);
    ck_assert_int_eq(archive_list(dir, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, STAMP "-li5.nc  2026-11-24T23:30:38Z  li5  ? records  needs "
                                "recovery\n"), "%s", out.s);
    strbuf_free(&out);
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, ": 52 records in 2 groups, 0 events") &&
                  strstr(msg, "torn tail: yes)"), "%s", msg);
    assert_counts(path, 50, 2, "recovered");
    char *damaged = util_printf("%s.damaged", path);
    ck_assert(exists(damaged));
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    assert_att(ncid, NC_GLOBAL, "insitu_end_reason", "interrupted");
    nc_close(ncid);
    free(damaged);
    free(jpath);
    free(path);
    tmpdir_free(dir);
}
END_TEST

/* Damage in the middle of the journal: what is before it is recovered, the rest is named as
 * lost, and the journal stays as evidence. */
START_TEST(archive_recover_corrupt_middle)
{
    char *dir = tmpdir_new();
    char *path = abandoned_run(dir, "li6", 100, 0, 1);
    char *jpath = util_printf("%s.journal", path);
    struct stat st;
    ck_assert_int_eq(stat(jpath, &st), 0);
    int fd = open(jpath, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char c;
    off_t mid = st.st_size / 2;
    ck_assert_int_eq(pread(fd, &c, 1, mid), 1);
    c ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &c, 1, mid), 1);
    close(fd);
    char msg[1024];
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "the journal is damaged at byte") && strstr(msg, "journal kept"),
                  "%s", msg);
    ck_assert(exists(jpath));
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    size_t n = dimlen(group(ncid, "ec"), "time");
    ck_assert_msg(n > 0 && n < 100, "%zu records", n);
    assert_att(ncid, NC_GLOBAL, "insitu_state", "recovered");
    assert_att(ncid, NC_GLOBAL, "insitu_end_reason", "interrupted");
    nc_close(ncid);
    free(jpath);
    free(path);
    tmpdir_free(dir);
}
END_TEST

START_TEST(archive_recover_refusals)
{
    char *dir = tmpdir_new();
    char msg[1024], err[512];
    char *missing = util_printf("%s/none.nc", dir);
    ck_assert_int_eq(archive_recover(missing, msg, sizeof msg), -1);
    char *want = util_printf("no journal beside %s: nothing to recover from", missing);
    ck_assert_str_eq(msg, want);
    free(want);
    /* A live run: its journal is locked. */
    struct fixture fx;
    fixture_init(&fx, "live");
    struct archive *a = archive_create(fx.run, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    ec_append(&fx, 0);
    ck_assert_int_eq(archive_recover(archive_path(a), msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "running insitu"), "%s", msg);
    struct strbuf out = { 0 };
    ck_assert_int_eq(archive_list(dir, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "  live  ") && strstr(out.s, "  recording\n"), "%s", out.s);
    /* info on the live file from the same process (the session's `archive info`) works and
     * leaves the writer undisturbed. */
    strbuf_reset(&out);
    ck_assert_msg(archive_info(archive_path(a), &out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(strstr(out.s, "run: live (recording)\n"), "%s", out.s);
    strbuf_free(&out);
    for (size_t i = 1; i < 100; i++)
        ck_assert_int_eq(ec_append(&fx, i), 0);
    char *live = util_strdup(archive_path(a));
    ck_assert_int_eq(archive_close(a, err, sizeof err), 0);
    int ncid;
    ck_assert_int_eq(nc_open(live, NC_NOWRITE, &ncid), NC_NOERR);
    ck_assert_uint_eq(dimlen(group(ncid, "ec"), "time"), 100);
    nc_close(ncid);
    free(live);
    /* A journal that is not one. */
    char *path = util_printf("%s/x.nc", dir);
    char *jpath = util_printf("%s.journal", path);
    int fd = open(jpath, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_eq(write(fd, "not a journal", 13), 13);
    close(fd);
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "not an insitu journal"), "%s", msg);
    ck_assert(!exists(path));
    /* A journal without its file is a run all the same. */
    ck_assert_int_eq(archive_list(dir, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "x.nc  ?  ?  ? records  needs recovery\n"), "%s", out.s);
    strbuf_free(&out);
    free(jpath);
    free(path);
    run_free(fx.run);
    free(missing);
    tmpdir_free(dir);
}
END_TEST

START_TEST(archive_list_empty)
{
    char *dir = tmpdir_new();
    struct strbuf out = { 0 };
    char err[512];
    ck_assert_int_eq(archive_list(dir, &out, err, sizeof err), 0);
    char *want = util_printf("(no runs in %s)\n", dir);
    ck_assert_str_eq(out.s, want);
    free(want);
    strbuf_reset(&out);
    char *missing = util_printf("%s/missing", dir);
    ck_assert_int_eq(archive_list(missing, &out, err, sizeof err), 0);
    ck_assert(strstr(out.s, "(no runs in "));
    strbuf_free(&out);
    free(missing);
    tmpdir_free(dir);
}
END_TEST

/* A full disk: the journal write fails, run_append says so, close refuses to call the file
 * complete and keeps the journal, which recovers exactly the acknowledged records. */
START_TEST(archive_disk_full)
{
    char *dir = tmpdir_new();
    struct fixture fx;
    fixture_init(&fx, "full");
    char err[512], msg[1024];
    struct archive *a = archive_create(fx.run, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    fixture_axis(&fx);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t acked = 0;
    int failed = 0;
    for (size_t i = 0; i < 1000 && !failed; i++) {
        if (nmr_append(&fx, i) == 0)
            acked++;
        else
            failed = 1;
    }
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(failed, 1);
    ck_assert_msg(archive_error(a) != NULL, "no error");
    ck_assert_int_eq(archive_close(a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "journal kept"), "%s", err);
    char *path = run_file(dir, "full");
    char *jpath = util_printf("%s.journal", path);
    ck_assert(exists(jpath));
    struct journal_scan res;
    ck_assert_int_eq(journal_read(jpath, NULL, NULL, &res, err, sizeof err), 0);
    ck_assert_int_eq(res.status, JOURNAL_EOF);   /* the failed write left no torn entry */
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), 0);
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    ck_assert_uint_eq(dimlen(group(ncid, "nmr"), "time"), acked);
    nc_close(ncid);
    run_free(fx.run);
    free(jpath);
    free(path);
    tmpdir_free(dir);
}
END_TEST

/* What a file cannot hold (an axis named like a field of its group, or the other way round) is
 * refused by the run already, so it never reaches the writer. */
START_TEST(archive_file_error)
{
    struct run *r = run_new("clash", UTC0, clock_now());
    static const struct run_field f[] = { { "x", "1", "x", RUN_F64, NULL, 0, NULL } };
    char err[512];
    ck_assert_ptr_nonnull(run_table_add(r, "g", NULL, f, 1, err, sizeof err));
    double v4[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(run_axis_set(r, "g", "x", 4, "1", "x axis", v4), -1);
    ck_assert_int_eq(run_axis_set(r, "g", "time", 4, "1", "x axis", v4), -1);
    ck_assert_int_eq(run_axis_set(r, "h", "y", 4, "1", "y axis", v4), 0);
    static const struct run_field g[] = { { "y", "1", "y", RUN_F64, NULL, 0, NULL } };
    ck_assert_ptr_null(run_table_add(r, "h", NULL, g, 1, err, sizeof err));
    ck_assert_msg(strstr(err, "axis"), "%s", err);
    run_free(r);
}
END_TEST

/* ---- fields added later, updates, axes replaced, reading back -------------------------- */

static const struct run_field nmr_later[] = {
    { "integral_metal", "1", "integral 240..252 ppm", RUN_F64, NULL, 0, NULL },
    { "npeaks", "1", "peaks found", RUN_I32, NULL, 0, NULL },
    { "label", "1", "assignment", RUN_STR, NULL, 0, NULL },
    { "baseline", "1", "fitted baseline", RUN_F64, "ppm", NPPM, NULL },
};

static double baseline_point(size_t rec, int k)
{
    return (double)rec + 0.01 * k;
}

/* A spectrum record once the fields of nmr_later exist. */
static int nmr_append_all(struct fixture *fx, size_t rec)
{
    double s[NPPM], b[NPPM];
    for (int k = 0; k < NPPM; k++) {
        s[k] = spectrum_point(rec, k);
        b[k] = baseline_point(rec, k);
    }
    union run_value v[6];
    v[0].arr = s;
    v[1].i32 = 64;
    v[2].f64 = 1.5 * (double)rec;
    v[3].i32 = -(int32_t)rec;
    v[4].str = "peak";
    v[5].arr = b;
    return run_append(fx->nmr, 60.0 * (double)rec, v);
}

static double ppm_shifted(int i)
{
    return 300.5 - i * (600.0 / NPPM);
}

/* The in-situ NMR story: three spectra, then results are defined, two more spectra with them,
 * then a reprocessing that rewrites earlier records (most no longer in memory) and
 * re-references the axis. Only the newest two array records stay in memory. */
static struct archive *reprocessed_run(struct fixture *fx, const char *dir)
{
    size_t keep = run_keep_arrays;
    run_keep_arrays = 2;
    fixture_init(fx, "rep");
    run_keep_arrays = keep;
    run_attr_text(fx->run, NULL, "cell", "Li|Li");
    char err[512];
    struct archive *a = archive_create(fx->run, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    fixture_axis(fx);
    for (size_t k = 0; k < 3; k++) {
        ck_assert_int_eq(nmr_append(fx, k), 0);
        ck_assert_int_eq(ec_append(fx, k), 0);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_msg(run_field_add(fx->nmr, &nmr_later[i], err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(run_field_add(fx->nmr, &nmr_later[0], err, sizeof err), 0);  /* again */
    run_event_at(fx->run, 150.0, RUN_INFO, "region metal added");   /* fixed times: two runs */
    for (size_t k = 3; k < 5; k++) {
        ck_assert_int_eq(nmr_append_all(fx, k), 0);
        ck_assert_int_eq(ec_append(fx, k), 0);
    }
    ck_assert_int_eq(archive_sync(a), 0);
    ck_assert_ptr_null(run_get_array(fx->nmr, 0, 2));

    union run_value v;
    double arr[NPPM];
    for (int k = 0; k < NPPM; k++)
        arr[k] = -spectrum_point(0, k);
    v.arr = arr;
    ck_assert_int_eq(archive_dirty(a), 0);
    ck_assert_int_eq(run_update(fx->nmr, 0, 0, &v), 0);    /* evicted from memory */
    ck_assert_int_eq(archive_dirty(a), 0);                 /* an array is synced at once */
    v.f64 = 100;
    ck_assert_int_eq(run_update(fx->nmr, 0, 2, &v), 0);
    ck_assert_int_eq(archive_dirty(a), 1);                 /* a scalar waits for the sync */
    v.f64 = 103;
    ck_assert_int_eq(run_update(fx->nmr, 3, 2, &v), 0);
    v.i32 = 9;
    ck_assert_int_eq(run_update(fx->nmr, 1, 3, &v), 0);
    v.str = "re";
    ck_assert_int_eq(run_update(fx->nmr, 2, 4, &v), 0);
    v.i32 = 512;
    ck_assert_int_eq(run_update(fx->nmr, 4, 1, &v), 0);
    v.arr = arr;
    for (int k = 0; k < NPPM; k++)
        arr[k] = 0.5 * k;
    ck_assert_int_eq(run_update(fx->nmr, 1, 5, &v), 0);    /* before its field existed */
    for (int k = 0; k < NPPM; k++)
        arr[k] = 7.0;
    ck_assert_int_eq(run_update(fx->nmr, 4, 5, &v), 0);    /* still in memory */
    ck_assert_double_eq(run_get_array(fx->nmr, 5, 4)[9], 7.0);
    double ppm[NPPM];
    for (int i = 0; i < NPPM; i++)
        ppm[i] = ppm_shifted(i);
    ck_assert_int_eq(run_axis_set(fx->run, "nmr", "ppm", NPPM, "ppm", "chemical shift", ppm), 0);
    ck_assert_int_eq(run_axis_set(fx->run, "nmr", "ppm", NPPM - 1, "ppm", "x", ppm), -1);
    run_event_at(fx->run, 250.0, RUN_INFO, "reprocessed");
    ck_assert_ptr_null(archive_error(a));
    return a;
}

/* Every group of a file as text: variables with their attributes and all their values. Global
 * attributes are left out (history and state differ between a clean and a recovered file). */
static void dump_file(const char *path, struct strbuf *o)
{
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    int ng, gids[64];
    ck_assert_int_eq(nc_inq_grps(ncid, &ng, gids), NC_NOERR);
    for (int g = 0; g < ng; g++) {
        char gname[NC_MAX_NAME + 1];
        nc_inq_grpname(gids[g], gname);
        strbuf_printf(o, "group %s\n", gname);
        int nv, vids[64];
        ck_assert_int_eq(nc_inq_varids(gids[g], &nv, vids), NC_NOERR);
        for (int v = 0; v < nv; v++) {
            char name[NC_MAX_NAME + 1];
            nc_type type;
            int ndims, dims[4], natts;
            ck_assert_int_eq(nc_inq_var(gids[g], vids[v], name, &type, &ndims, dims, &natts),
                             NC_NOERR);
            size_t n = 1;
            strbuf_printf(o, " %s type %d (", name, (int)type);
            for (int d = 0; d < ndims; d++) {
                size_t len;
                char dn[NC_MAX_NAME + 1];
                nc_inq_dim(gids[g], dims[d], dn, &len);
                strbuf_printf(o, " %s=%zu", dn, len);
                n *= len;
            }
            strbuf_addstr(o, " )\n");
            for (int i = 0; i < natts; i++) {
                char an[NC_MAX_NAME + 1];
                nc_type at;
                size_t al;
                nc_inq_attname(gids[g], vids[v], i, an);
                nc_inq_att(gids[g], vids[v], an, &at, &al);
                strbuf_printf(o, "  :%s =", an);
                if (at == NC_CHAR) {
                    char *t = att_text(gids[g], vids[v], an);
                    strbuf_printf(o, " '%s'", t);
                    free(t);
                } else {
                    double av[16];
                    ck_assert_uint_le(al, 16);
                    nc_get_att_double(gids[g], vids[v], an, av);
                    for (size_t k = 0; k < al; k++)
                        strbuf_printf(o, " %.17g", av[k]);
                }
                strbuf_addch(o, '\n');
            }
            strbuf_addstr(o, "  =");
            if (type == NC_STRING) {
                char **sv = util_calloc(n ? n : 1, sizeof *sv);
                ck_assert_int_eq(nc_get_var_string(gids[g], vids[v], sv), NC_NOERR);
                for (size_t k = 0; k < n; k++)
                    strbuf_printf(o, " '%s'", sv[k] ? sv[k] : "(null)");
                nc_free_string(n, sv);
                free(sv);
            } else {
                double *dv = util_calloc(n ? n : 1, sizeof *dv);
                ck_assert_int_eq(nc_get_var_double(gids[g], vids[v], dv), NC_NOERR);
                for (size_t k = 0; k < n; k++)
                    strbuf_printf(o, " %.17g", dv[k]);
                free(dv);
            }
            strbuf_addch(o, '\n');
        }
    }
    nc_close(ncid);
}

START_TEST(archive_fields_and_updates)
{
    char *dir = tmpdir_new();
    struct fixture fx;
    struct archive *a = reprocessed_run(&fx, dir);
    char err[512];

    /* Reading back from the live file, through the writer (nothing synced since the last
     * scalar updates). */
    double back[NPPM], x;
    ck_assert_msg(archive_read_array(a, fx.nmr, 0, 0, back, NPPM, err, sizeof err) == 0, "%s", err);
    for (int k = 0; k < NPPM; k++)
        ck_assert(back[k] == -spectrum_point(0, k));
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 0, 2, back, NPPM, err, sizeof err), 0);
    for (int k = 0; k < NPPM; k++)
        ck_assert(back[k] == spectrum_point(2, k));
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 5, 2, back, NPPM, err, sizeof err), 0);
    for (int k = 0; k < NPPM; k++)
        ck_assert(isnan(back[k]));                          /* before the field existed */
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 5, 1, back, NPPM, err, sizeof err), 0);
    ck_assert(back[10] == 5.0);
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 5, 3, back, NPPM, err, sizeof err), 0);
    ck_assert(back[10] == baseline_point(3, 10));
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 2, 0, &x, err, sizeof err), 0);
    ck_assert(x == 100);
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 2, 1, &x, err, sizeof err), 0);
    ck_assert(isnan(x));
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 3, 0, &x, err, sizeof err), 0);
    ck_assert(isnan(x));                                    /* an int's missing value */
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 3, 1, &x, err, sizeof err), 0);
    ck_assert(x == 9);
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 1, 4, &x, err, sizeof err), 0);
    ck_assert(x == 512);
    ck_assert_int_eq(archive_read_f64(a, fx.ec, 0, 4, &x, err, sizeof err), 0);
    ck_assert(x == ec_voltage(4));
    /* What cannot be read. */
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 0, 5, back, NPPM, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "record 5 is not in the file"), "%s", err);
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 0, 0, back, NPPM - 1, err, sizeof err), -1);
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 2, 0, back, NPPM, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "a scalar"), "%s", err);
    ck_assert_int_eq(archive_read_array(a, fx.nmr, 6, 0, back, NPPM, err, sizeof err), -1);
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 4, 0, &x, err, sizeof err), -1);
    ck_assert_int_eq(archive_read_f64(a, fx.nmr, 0, 0, &x, err, sizeof err), -1);
    /* An update out of range reaches nobody. */
    union run_value v = { .f64 = 1 };
    ck_assert_int_eq(run_update(fx.nmr, 5, 2, &v), -1);
    ck_assert_ptr_null(archive_error(a));
    char *path = util_strdup(archive_path(a));
    run_end(fx.run, "done");
    ck_assert_int_eq(archive_close(a, err, sizeof err), 0);

    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    int nmr = group(ncid, "nmr");
    ck_assert_uint_eq(dimlen(nmr, "time"), 5);
    assert_cf_variables(ncid);
    assert_att(nmr, varid(nmr, "integral_metal"), "long_name", "integral 240..252 ppm");
    assert_att(nmr, varid(nmr, "baseline"), "units", "1");
    double d[5];
    ck_assert_int_eq(nc_get_var_double(nmr, varid(nmr, "integral_metal"), d), NC_NOERR);
    ck_assert(d[0] == 100 && isnan(d[1]) && isnan(d[2]) && d[3] == 103 && d[4] == 6.0);
    double fill;
    ck_assert_int_eq(nc_get_att_double(nmr, varid(nmr, "integral_metal"), "_FillValue", &fill),
                     NC_NOERR);
    ck_assert(isnan(fill));
    int iv[5], ifill;
    ck_assert_int_eq(nc_get_var_int(nmr, varid(nmr, "npeaks"), iv), NC_NOERR);
    ck_assert_int_eq(iv[0], INT32_MIN);
    ck_assert_int_eq(iv[1], 9);
    ck_assert_int_eq(iv[2], INT32_MIN);
    ck_assert_int_eq(iv[3], -3);
    ck_assert_int_eq(iv[4], -4);
    ck_assert_int_eq(nc_get_att_int(nmr, varid(nmr, "npeaks"), "_FillValue", &ifill), NC_NOERR);
    ck_assert_int_eq(ifill, INT32_MIN);
    /* Fields defined with their table have no _FillValue (ints stay ints for xarray). */
    ck_assert_int_ne(nc_inq_att(nmr, varid(nmr, "scans"), "_FillValue", NULL, NULL), NC_NOERR);
    ck_assert_int_ne(nc_inq_att(nmr, varid(nmr, "spectrum"), "_FillValue", NULL, NULL), NC_NOERR);
    ck_assert_int_eq(nc_get_var_int(nmr, varid(nmr, "scans"), iv), NC_NOERR);
    ck_assert(iv[0] == 64 && iv[3] == 64 && iv[4] == 512);
    char *sv[5];
    ck_assert_int_eq(nc_get_var_string(nmr, varid(nmr, "label"), sv), NC_NOERR);
    ck_assert_str_eq(sv[0] ? sv[0] : "", "");
    ck_assert_str_eq(sv[1] ? sv[1] : "", "");
    ck_assert_str_eq(sv[2], "re");
    ck_assert_str_eq(sv[4], "peak");
    nc_free_string(5, sv);
    double *rows = util_calloc(5 * NPPM, sizeof *rows);
    ck_assert_int_eq(nc_get_var_double(nmr, varid(nmr, "spectrum"), rows), NC_NOERR);
    for (int k = 0; k < NPPM; k++) {
        ck_assert(rows[k] == -spectrum_point(0, k));
        for (size_t r = 1; r < 5; r++)
            ck_assert(rows[r * NPPM + (size_t)k] == spectrum_point(r, k));
    }
    ck_assert_int_eq(nc_get_var_double(nmr, varid(nmr, "baseline"), rows), NC_NOERR);
    for (int k = 0; k < NPPM; k++) {
        ck_assert(isnan(rows[k]) && isnan(rows[2 * NPPM + (size_t)k]));
        ck_assert(rows[NPPM + (size_t)k] == 0.5 * k);
        ck_assert(rows[3 * NPPM + (size_t)k] == baseline_point(3, k));
        ck_assert(rows[4 * NPPM + (size_t)k] == 7.0);
    }
    free(rows);
    double ppm[NPPM];
    ck_assert_int_eq(nc_get_var_double(nmr, varid(nmr, "ppm"), ppm), NC_NOERR);
    for (int i = 0; i < NPPM; i++)
        ck_assert(ppm[i] == ppm_shifted(i));
    ck_assert_uint_eq(dimlen(nmr, "ppm"), NPPM);
    int ec = group(ncid, "ec");
    ck_assert_int_eq(nc_get_var_double(ec, varid(ec, "voltage"), d), NC_NOERR);
    ck_assert(d[4] == ec_voltage(4));
    nc_close(ncid);

    /* archive info lists the later fields like the others. */
    struct strbuf out = { 0 };
    ck_assert_int_eq(archive_info(path, &out, err, sizeof err), 0);
    ck_assert_msg(strstr(out.s, "group nmr: 5 records\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  integral_metal(time) 1 \"integral 240..252 ppm\"\n"), "%s",
                  out.s);
    ck_assert_msg(strstr(out.s, "  baseline(time,ppm) 1 \"fitted baseline\"\n"), "%s", out.s);
    ck_assert_msg(strstr(out.s, "  npeaks(time) 1 \"peaks found\"\n"), "%s", out.s);
    strbuf_free(&out);
    run_free(fx.run);
    free(path);
    tmpdir_free(dir);
}
END_TEST

/* The same story cut short by a crash: the recovered file holds exactly what the clean one
 * holds, fields added later and rewritten values included. */
START_TEST(archive_recover_fields_and_updates)
{
    char *clean = tmpdir_new(), *crashed = tmpdir_new();
    struct fixture fx;
    char err[512], msg[1024];
    struct archive *a = reprocessed_run(&fx, clean);
    char *cpath = util_strdup(archive_path(a));
    ck_assert_int_eq(archive_close(a, err, sizeof err), 0);
    run_free(fx.run);
    a = reprocessed_run(&fx, crashed);
    char *path = util_strdup(archive_path(a));
    archive_abandon(a);
    run_free(fx.run);
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), 0);
    ck_assert_msg(!strstr(msg, "skipped") && !strstr(msg, "kept"), "%s", msg);
    char *jpath = util_printf("%s.journal", path);
    ck_assert(!exists(jpath));
    struct strbuf want = { 0 }, got = { 0 };
    dump_file(cpath, &want);
    dump_file(path, &got);
    ck_assert_msg(strstr(want.s, " integral_metal type 6 ( time=5 )\n  :units = '1'\n"), "%s",
                  want.s);
    ck_assert_msg(strcmp(got.s, want.s) == 0, "the recovered file differs from the clean one");
    strbuf_free(&want);
    strbuf_free(&got);
    free(jpath);
    free(path);
    free(cpath);
    tmpdir_free(clean);
    tmpdir_free(crashed);
}
END_TEST

/* A record whose journal entry failed is not in the journal: updates of later records still
 * land on the right record after recovery, and an update of the lost one says it failed. */
START_TEST(archive_update_after_lost_record)
{
    char *dir = tmpdir_new();
    struct fixture fx;
    fixture_init(&fx, "lost");
    char err[512], msg[1024];
    struct archive *a = archive_create(fx.run, dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    fixture_axis(&fx);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t acked = 0;
    while (nmr_append(&fx, acked) == 0)
        acked++;
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_uint_gt(acked, 2);
    size_t lost = acked;                    /* in memory, not in the journal */
    ck_assert_int_eq(nmr_append(&fx, lost + 1), 0);
    union run_value v = { .i32 = 7 };
    ck_assert_int_eq(run_update(fx.nmr, lost + 1, 1, &v), 0);
    v.i32 = 5;
    ck_assert_int_eq(run_update(fx.nmr, 1, 1, &v), 0);
    ck_assert_int_eq(run_update(fx.nmr, lost, 1, &v), -1);
    char *path = util_strdup(archive_path(a));
    archive_abandon(a);
    ck_assert_int_eq(archive_recover(path, msg, sizeof msg), 0);
    int ncid;
    ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
    int nmr = group(ncid, "nmr");
    ck_assert_uint_eq(dimlen(nmr, "time"), acked + 1);
    int *scans = util_calloc(acked + 1, sizeof *scans);
    ck_assert_int_eq(nc_get_var_int(nmr, varid(nmr, "scans"), scans), NC_NOERR);
    ck_assert_int_eq(scans[0], 64);
    ck_assert_int_eq(scans[1], 5);
    ck_assert_int_eq(scans[acked], 7);      /* the record after the lost one */
    double last;
    size_t idx[2] = { acked, 3 };
    ck_assert_int_eq(nc_get_var1_double(nmr, varid(nmr, "spectrum"), idx, &last), NC_NOERR);
    ck_assert(last == spectrum_point(lost + 1, 3));
    nc_close(ncid);
    free(scans);
    free(path);
    run_free(fx.run);
    tmpdir_free(dir);
}
END_TEST

/* ---- crash test -------------------------------------------------------------------------- */

struct acked {
    uint32_t ec, nmr;
};

static void crash_child(const char *dir, int fd)
{
    struct fixture fx;
    fixture_init(&fx, "crash");
    run_attr_text(fx.run, NULL, "cell", "Li|Li");
    char err[512];
    struct archive *a = archive_create(fx.run, dir, err, sizeof err);
    if (!a)
        _exit(3);
    fixture_axis(&fx);
    struct acked n = { 0, 0 };
    for (size_t i = 0;; i++) {
        if (ec_append(&fx, i) < 0)
            _exit(4);
        n.ec++;
        if (i % 8 == 0) {
            if (nmr_append(&fx, n.nmr) < 0)
                _exit(4);
            n.nmr++;
        }
        if (i % 500 == 0)
            archive_sync(a);
        /* Told only after run_append returned 0: these records are acknowledged. */
        if (write(fd, &n, sizeof n) != (ssize_t)sizeof n)
            _exit(5);
    }
}

START_TEST(archive_crash)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int opened_directly = 0, complete_directly = 0, recovered = 0;
    double t_start = clock_mono();
    for (int iter = 0; iter < 20 && clock_mono() - t_start < 15.0; iter++) {
        char *dir = tmpdir_new();
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(dir, p[1]);
        }
        close(p[1]);
        int ms = 3 + rand_r(&seed) % 298;
        struct acked last = { 0, 0 };
        unsigned char buf[4096];
        size_t have = 0;
        double deadline = clock_mono() + ms / 1000.0;
        int killed = 0;
        for (;;) {
            double left = deadline - clock_mono();
            if (!killed && left <= 0) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd pf = { p[0], POLLIN, 0 };
            if (poll(&pf, 1, killed ? 1000 : (int)(left * 1000) + 1) <= 0)
                continue;
            ssize_t n = read(p[0], buf + have, sizeof buf - have);
            if (n <= 0)
                break;              /* EOF: the child is dead and everything is read */
            have += (size_t)n;
            size_t whole = have / sizeof last * sizeof last;
            if (whole)
                memcpy(&last, buf + whole - sizeof last, sizeof last);
            memmove(buf, buf + whole, have - whole);
            have -= whole;
        }
        close(p[0]);
        int status;
        waitpid(pid, &status, 0);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "child ended otherwise (status %d)", status);

        char *path = run_file(dir, "crash");
        if (last.ec == 0) {             /* killed before the first acknowledgement */
            tmpdir_free(dir);
            free(path);
            continue;
        }
        int ncid;
        if (nc_open(path, NC_NOWRITE, &ncid) == NC_NOERR) {
            opened_directly++;
            size_t e = dimlen(group(ncid, "ec"), "time"), m = dimlen(group(ncid, "nmr"), "time");
            complete_directly += e >= last.ec && m >= last.nmr;
            nc_close(ncid);
        }
        char msg[1024];
        ck_assert_msg(archive_recover(path, msg, sizeof msg) == 0, "iteration %d (%d ms, seed "
                      "%u): %s", iter, ms, seed, msg);
        recovered++;
        ck_assert_int_eq(nc_open(path, NC_NOWRITE, &ncid), NC_NOERR);
        int ec = group(ncid, "ec"), nmr = group(ncid, "nmr");
        size_t e = dimlen(ec, "time"), m = dimlen(nmr, "time");
        ck_assert_msg(e >= last.ec && m >= last.nmr, "iteration %d: acknowledged %u+%u, file has "
                      "%zu+%zu (%s)", iter, last.ec, last.nmr, e, m, msg);
        /* The values too, not only the counts. */
        size_t i = last.ec - 1;
        double v;
        ck_assert_int_eq(nc_get_var1_double(ec, varid(ec, "voltage"), &i, &v), NC_NOERR);
        ck_assert(v == ec_voltage(i));
        if (last.nmr) {
            size_t idx[2] = { last.nmr - 1, NPPM - 1 };
            ck_assert_int_eq(nc_get_var1_double(nmr, varid(nmr, "spectrum"), idx, &v), NC_NOERR);
            ck_assert(v == spectrum_point(last.nmr - 1, NPPM - 1));
        }
        assert_att(ncid, NC_GLOBAL, "insitu_state", "recovered");
        nc_close(ncid);
        free(path);
        tmpdir_free(dir);
    }
    ck_assert_int_gt(recovered, 5);
    fprintf(stderr, "archive_crash: %d recovered, %d opened directly, %d of those complete\n",
            recovered, opened_directly, complete_directly);
}
END_TEST

Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("journal");
    tcase_set_timeout(tc, 30);      /* the junk test under sanitizers on a slow machine */
    tcase_add_test(tc, journal_roundtrip);
    tcase_add_test(tc, journal_little_endian);
    tcase_add_test(tc, journal_torn_tail);
    tcase_add_test(tc, journal_corrupt);
    tcase_add_test(tc, journal_junk);
    tcase_add_test(tc, journal_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("file");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, archive_write_and_read);
    tcase_add_test(tc, archive_refuses_overwrite);
    tcase_add_test(tc, archive_unwritable);
    tcase_add_test(tc, archive_list_empty);
    tcase_add_test(tc, archive_disk_full);
    tcase_add_test(tc, archive_file_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("recover");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, archive_recover_abandoned);
    tcase_add_test(tc, archive_recover_torn_and_damaged);
    tcase_add_test(tc, archive_recover_corrupt_middle);
    tcase_add_test(tc, archive_recover_refusals);
    suite_add_tcase(s, tc);
    tc = tcase_create("update");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, archive_fields_and_updates);
    tcase_add_test(tc, archive_recover_fields_and_updates);
    tcase_add_test(tc, archive_update_after_lost_record);
    suite_add_tcase(s, tc);
    tc = tcase_create("crash");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, archive_crash);
    suite_add_tcase(s, tc);
    return s;
}
