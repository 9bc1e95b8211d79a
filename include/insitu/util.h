/* util: small allocation and string helpers shared by every module (pure, no I/O). */
#ifndef INSITU_UTIL_H
#define INSITU_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts on failure: running out of memory in a lab program is not recoverable
 * in any useful way, and checking every small allocation hides the real error paths. */
void *util_malloc(size_t n);
void *util_calloc(size_t n, size_t size);
void *util_realloc(void *p, size_t n);
void *util_reallocarray(void *p, size_t n, size_t size);
char *util_strdup(const char *s);
char *util_strndup(const char *s, size_t n);
char *util_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *util_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Growable string. */
struct strbuf {
    char *s;
    size_t len, cap;
};
void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_addstr(struct strbuf *b, const char *s);
void strbuf_addch(struct strbuf *b, char c);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *b);
void strbuf_free(struct strbuf *b);
/* Give the string away (never NULL); the buffer is empty afterwards. */
char *strbuf_take(struct strbuf *b);

/* Copy at most size-1 bytes and terminate; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);
int util_startswith(const char *s, const char *prefix);
/* A name usable as a netCDF variable / run name: [A-Za-z_][A-Za-z0-9_.-]*, at most 64 chars. */
int util_valid_name(const char *s);

#endif
