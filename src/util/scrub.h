/* nook util — host paths out of text meant for JSON results, errors and the journal
 * (CONTRACT.md "Errors": a host path appears only in the CLI's human output). */
#ifndef NOOK_UTIL_SCRUB_H
#define NOOK_UTIL_SCRUB_H

/* A copy of text where the data dir, the run dir, their user-specific ancestors and
 * $HOME are named instead of spelled out ("<data dir>", "<run dir>/..", "~"), whole
 * path components only.  NULL on ENOMEM or when text is NULL. */
char *nook_scrub_paths(const char *text, const char *data_dir, const char *run_dir);

#endif
