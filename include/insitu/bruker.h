/* bruker: Bruker TopSpin datasets (acqus/procs JCAMP-DX parameters, fid, ser, pdata 1r/1i).
 *
 * The JCAMP-DX reader understands what TopSpin writes:
 *   ##$KEY= value            a number or a word
 *   ##$KEY= <text>           a string (may run over several lines until '>')
 *   ##$KEY= (0..N)           an array; its N+1 values follow on the next lines
 *   ##KEY= value             core header lines (##TITLE=, ##END=), kept under "KEY" without '$'
 *   $$ ...                   comments (also after a value on the same line)
 * It is bounded and never trusts the input: any bytes give either a table or one clear error
 * "FILE:LINE: reason".  Every function returns 0 on success and -1 with ERR filled on failure. */
#ifndef INSITU_BRUKER_H
#define INSITU_BRUKER_H

#include <complex.h>
#include <stddef.h>

struct bruker_err {
    char msg[512];  /* "FILE:LINE: reason" or "FILE: reason" */
};

struct jcamp_entry {
    char *key;    /* without "##$" */
    char *value;  /* raw text after "= " (arrays: the values after the "(0..N)" header) */
    int line;     /* line of the "##" that starts it */
    int count;    /* arrays: N+1; scalars: 0 */
    int string;   /* the value was <text>: VALUE holds the text without the brackets */
};

struct jcamp {
    struct jcamp_entry *v;
    int n;
    char *file;
};

/* Parse LEN bytes of TEXT (need not be terminated; NUL bytes are an error) named FILE. */
int bruker_jcamp_parse(const char *text, size_t len, const char *file, struct jcamp *out,
                       struct bruker_err *err);
int bruker_jcamp_load(const char *path, struct jcamp *out, struct bruker_err *err);
/* A whole parameter or text file of at most MAX bytes (TopSpin's files are small: a larger one
 * is not one of them), malloc'd with *LEN. NULL with ERR and errno (ENOENT for a missing file,
 * EFBIG, EIO) on failure. */
char *bruker_read_file(const char *path, long max, size_t *len, struct bruker_err *err);
void bruker_jcamp_free(struct jcamp *j);

/* Lookups (keys are case-sensitive, as TopSpin writes them). A missing key or a value that is
 * not of the asked kind is an error naming the file, the line and the key. */
const struct jcamp_entry *bruker_jcamp_find(const struct jcamp *j, const char *key);
int bruker_jcamp_number(const struct jcamp *j, const char *key, double *out,
                        struct bruker_err *err);
int bruker_jcamp_integer(const struct jcamp *j, const char *key, long *out,
                         struct bruker_err *err);
/* The string without its <>; returns a pointer into J (valid until bruker_jcamp_free). */
int bruker_jcamp_string(const struct jcamp *j, const char *key, const char **out,
                        struct bruker_err *err);
/* Element IDX (0-based) of an array of numbers. */
int bruker_jcamp_array_number(const struct jcamp *j, const char *key, int idx, double *out,
                              struct bruker_err *err);

/* The parameters of a 1D dataset that processing needs. */
struct bruker_acqus {
    long td;        /* real+imaginary values in one FID */
    double sw_h;    /* Hz */
    double sw;      /* ppm */
    double sfo1, bf1;  /* MHz */
    double o1;      /* Hz */
    int digmod;     /* 0: analogue filter; otherwise digital (group delay to correct) */
    double grpdly;  /* points; -1 when the firmware did not store it */
    int dspfvs;
    double decim;
    int dtypa;      /* 0 int32, 2 float64 */
    int bytorda;    /* 0 little endian, 1 big endian */
    long ns;
};

struct bruker_procs {
    long si;        /* complex points of the spectrum */
    long tdeff;     /* 0: all of TD */
    int bc_mod, wdw;
    double lb, gb, fcor, phc0, phc1;
    double sf;      /* MHz, for ppm */
    double offset;  /* ppm of the first point */
    double sw_p;    /* Hz */
    int nc_proc, bytordp, dtypp;
};

int bruker_acqus_get(const struct jcamp *j, struct bruker_acqus *a, struct bruker_err *err);
int bruker_procs_get(const struct jcamp *j, struct bruker_procs *p, struct bruker_err *err);

/* Read a fid: TD values (int32 or float64 per DTYPA, byte order per BYTORDA) into TD/2 complex
 * points OUT (caller's array of td/2). Padding after TD values is ignored; fewer is an error. */
int bruker_read_fid(const char *path, const struct bruker_acqus *a, double complex *out,
                    struct bruker_err *err);
/* Row ROW of a ser file: every FID is padded to a multiple of 256 values (1024 bytes). */
int bruker_read_ser_row(const char *path, const struct bruker_acqus *a, long row,
                        double complex *out, struct bruker_err *err);
/* A processed file (1r, 1i): SI values of int32 (DTYPP 0) or float64 (2), scaled by
 * 2^NC_proc so that OUT is in the same units as the FID's transform. */
int bruker_read_pdata(const char *path, const struct bruker_procs *p, double *out,
                      struct bruker_err *err);

/* A whole dataset directory: DIR/acqus, DIR/fid, DIR/pdata/1/procs. */
struct bruker_dataset {
    struct bruker_acqus acq;
    struct bruker_procs proc;
    double complex *fid;  /* acq.td / 2 points, malloc'd */
    long npoints;
};
int bruker_read_dataset(const char *dir, struct bruker_dataset *ds, struct bruker_err *err);
void bruker_dataset_free(struct bruker_dataset *ds);

#endif
