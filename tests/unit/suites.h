/* The Check suites of the unit tests; main.c runs them all. */
#ifndef INSITU_TEST_SUITES_H
#define INSITU_TEST_SUITES_H

#include <check.h>

Suite *parse_suite(void);
Suite *units_suite(void);
Suite *cmd_suite(void);
Suite *loop_suite(void);
Suite *run_suite(void);
Suite *archive_suite(void);
Suite *plot_suite(void);
Suite *ui_suite(void);
Suite *ecfile_suite(void);
Suite *cell_suite(void);
Suite *transport_suite(void);
Suite *keithley_suite(void);
Suite *nmr_suite(void);
Suite *nmrspec_suite(void);
Suite *topspin_suite(void);
Suite *nmrfit_suite(void);
Suite *nmrsim_suite(void);
Suite *nmrpanes_suite(void);

#endif
