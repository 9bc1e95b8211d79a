/* complete: what can come next on a command line, from the command table, the settings, the
 * layouts and the pane types: one generator for the terminal's Tab key and for tests. */
#ifndef INSITU_COMPLETE_H
#define INSITU_COMPLETE_H

/* Candidates for the word that starts at byte START of LINE (the word is LINE[START..END)).
 * Returns a NULL-terminated array (free with complete_free), or NULL when file names should be
 * completed instead (*files set to 1) or nothing fits. */
char **complete_line(const char *line, int start, int end, int *files);
void complete_free(char **v);

#endif
