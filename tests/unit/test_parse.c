/* The command language's lexer and parser. */
#include <stdlib.h>
#include <string.h>

#include "insitu/parse.h"
#include "suites.h"

static struct cmdlist L;
static struct parse_error E;

static enum parse_status P(const char *text)
{
    cmdlist_free(&L);
    return parse_text(text, "t.cmd", 1, &L, &E);
}

static void teardown(void)
{
    cmdlist_free(&L);
}

START_TEST(words_and_separators)
{
    ck_assert_int_eq(P("run start li1 cell=Li ; note hello\nwait 10s"), PARSE_OK);
    ck_assert_int_eq(L.n, 3);
    ck_assert_int_eq(L.v[0].argc, 4);
    ck_assert_str_eq(L.v[0].argv[2].text, "li1");
    ck_assert_str_eq(L.v[1].argv[1].text, "hello");
    ck_assert_int_eq(L.v[2].line, 2);
    ck_assert_str_eq(L.v[2].argv[1].text, "10s");
}
END_TEST

START_TEST(quotes)
{
    ck_assert_int_eq(P("echo 'a b' \"c \\\"d\\\" \\n\" e'f g'h"), PARSE_OK);
    ck_assert_int_eq(L.v[0].argc, 4);
    ck_assert_str_eq(L.v[0].argv[1].text, "a b");
    ck_assert_str_eq(L.v[0].argv[2].text, "c \"d\" \n");
    ck_assert_str_eq(L.v[0].argv[3].text, "ef gh");
    ck_assert_int_eq(L.v[0].argv[1].quoted, 1);
    ck_assert_int_eq(L.v[0].argv[0].quoted, 0);
    /* ; and # inside quotes are text */
    ck_assert_int_eq(P("echo 'a;b' \"#c\""), PARSE_OK);
    ck_assert_int_eq(L.n, 1);
    ck_assert_str_eq(L.v[0].argv[1].text, "a;b");
    ck_assert_str_eq(L.v[0].argv[2].text, "#c");
}
END_TEST

START_TEST(comments)
{
    ck_assert_int_eq(P("# a comment\necho a#b # trailing\n  # indented\necho c"), PARSE_OK);
    ck_assert_int_eq(L.n, 2);
    ck_assert_int_eq(L.v[0].argc, 2);
    ck_assert_str_eq(L.v[0].argv[1].text, "a#b");
    ck_assert_int_eq(L.v[1].line, 4);
}
END_TEST

START_TEST(continuation)
{
    ck_assert_int_eq(P("echo a \\\n  b\necho c"), PARSE_OK);
    ck_assert_int_eq(L.n, 2);
    ck_assert_int_eq(L.v[0].argc, 3);
    ck_assert_int_eq(L.v[1].line, 3);
    ck_assert_int_eq(P("echo ab\\\ncd"), PARSE_OK);
    ck_assert_str_eq(L.v[0].argv[1].text, "abcd");
    ck_assert_int_eq(P("echo a \\"), PARSE_INCOMPLETE);
}
END_TEST

START_TEST(blocks)
{
    ck_assert_int_eq(P("repeat 3 {\n  echo '}' ; note \"{\"\n  # } in a comment\n  inner { x }\n}\necho after"),
                     PARSE_OK);
    ck_assert_int_eq(L.n, 2);
    ck_assert_int_eq(L.v[0].argc, 3);
    ck_assert_int_eq(L.v[0].argv[2].block, 1);
    ck_assert_int_eq(L.v[0].argv[2].line, 1);
    ck_assert_ptr_nonnull(strstr(L.v[0].argv[2].text, "inner { x }"));
    ck_assert_int_eq(L.v[1].line, 6);
    /* the block's text parses again with the right line numbers */
    struct cmdlist in;
    struct parse_error e;
    ck_assert_int_eq(parse_text(L.v[0].argv[2].text, "t.cmd", L.v[0].argv[2].line, &in, &e), PARSE_OK);
    ck_assert_int_eq(in.n, 3);
    ck_assert_int_eq(in.v[0].line, 2);
    ck_assert_int_eq(in.v[2].line, 4);
    cmdlist_free(&in);
    /* quoted braces are not blocks */
    ck_assert_int_eq(P("echo '{' \"}\""), PARSE_OK);
    ck_assert_int_eq(L.v[0].argv[1].block, 0);
}
END_TEST

START_TEST(errors)
{
    ck_assert_int_eq(P("echo ok\necho 'open\nmore"), PARSE_INCOMPLETE);
    ck_assert_int_eq(E.line, 2);
    ck_assert_str_eq(E.msg, "unterminated '...' string");
    ck_assert_int_eq(L.n, 0);
    ck_assert_int_eq(P("echo \"x"), PARSE_INCOMPLETE);
    ck_assert_str_eq(E.msg, "unterminated \"...\" string");
    ck_assert_int_eq(P("\n\nrepeat 2 {\n echo"), PARSE_INCOMPLETE);
    ck_assert_int_eq(E.line, 3);
    ck_assert_str_eq(E.msg, "unterminated { block");
    ck_assert_int_eq(P("echo a\n}"), PARSE_ERROR);
    ck_assert_int_eq(E.line, 2);
    ck_assert_str_eq(E.msg, "unexpected }");
    ck_assert_int_eq(P("repeat 2 {echo}x"), PARSE_ERROR);
}
END_TEST

START_TEST(empty)
{
    ck_assert_int_eq(P(""), PARSE_OK);
    ck_assert_int_eq(L.n, 0);
    ck_assert_int_eq(P(" ;; \n\n # x\n"), PARSE_OK);
    ck_assert_int_eq(L.n, 0);
    ck_assert_int_eq(P("echo ''"), PARSE_OK);
    ck_assert_int_eq(L.v[0].argc, 2);
    ck_assert_str_eq(L.v[0].argv[1].text, "");
}
END_TEST

START_TEST(quote_roundtrip)
{
    const char *samples[] = { "plain", "a b", "it's", "\"q\" $x \\", "", "#x", "a\nb", "{" };
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        char *q = parse_quote(samples[i]);
        char *text = malloc(strlen(q) + 8);
        strcpy(text, "echo ");
        strcat(text, q);
        ck_assert_int_eq(P(text), PARSE_OK);
        ck_assert_int_eq(L.v[0].argc, 2);
        ck_assert_str_eq(L.v[0].argv[1].text, samples[i]);
        free(text);
        free(q);
    }
}
END_TEST

Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, words_and_separators);
    tcase_add_test(tc, quotes);
    tcase_add_test(tc, comments);
    tcase_add_test(tc, continuation);
    tcase_add_test(tc, blocks);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, empty);
    tcase_add_test(tc, quote_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
