/* Unit tests: every suite, one runner. CK_FORK=yes isolates crashes per test. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(parse_suite());
    srunner_add_suite(sr, units_suite());
    srunner_add_suite(sr, cmd_suite());
    srunner_add_suite(sr, loop_suite());
    srunner_add_suite(sr, run_suite());
    srunner_add_suite(sr, archive_suite());
    srunner_add_suite(sr, plot_suite());
    srunner_add_suite(sr, ui_suite());
    srunner_add_suite(sr, ecfile_suite());
    srunner_add_suite(sr, cell_suite());
    srunner_add_suite(sr, transport_suite());
    srunner_add_suite(sr, keithley_suite());
    srunner_add_suite(sr, nmr_suite());
    srunner_add_suite(sr, nmrspec_suite());
    srunner_add_suite(sr, topspin_suite());
    srunner_add_suite(sr, nmrfit_suite());
    srunner_add_suite(sr, nmrsim_suite());
    srunner_add_suite(sr, nmrpanes_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
