/* nook CLI — sessions and processes as the listing verbs show them (listing.c). */
#ifndef NOOK_CLI_LISTING_H
#define NOOK_CLI_LISTING_H

#include "cli.h"

typedef struct cli_session_row {
        char *ref, *env, *name, *identity, *state, *rootfs, *notes, *mounts, *network, *hostname, *secrets;
        char *labels; /* "KEY=VALUE" lines, or NULL */
        char *image, *driver, *driver_reason, *upper, *ports;
        unsigned long long owners_collapsed;
        int holder_pid;
        long long created_ms;
        bool owned;
} cli_session_row;

typedef struct cli_sessions {
        cli_session_row *v;
        size_t n;
} cli_sessions;

typedef struct cli_process_row {
        char *ref, *session_ref, *env, *command, *state;
        char *ended_by; /* nook_process_info.ended_by, or NULL */
        int exit_code;
        bool terminal;
        long long started_ms, finished_ms;
} cli_process_row;

typedef struct cli_processes {
        cli_process_row *v;
        size_t n;
} cli_processes;

/* Oldest first; EXIT_NOOK after reporting. */
int cli_sessions_load(nook_runtime *rt, cli_sessions *ret);
void cli_sessions_done(cli_sessions *l);
const cli_session_row *cli_sessions_find(const cli_sessions *l, const char *environment_id);
/* The name, else the environment id. */
const char *cli_session_label(const cli_session_row *r);

/* Of one session (name, environment id or ref) or of all (NULL), oldest first. */
int cli_processes_load(nook_runtime *rt, const char *session, cli_processes *ret);
void cli_processes_done(cli_processes *l);

/* What a person typed for a process or a session: a process ref, a session's name,
 * environment id or ref, or a unique start (4 characters or more) of a process ref, a
 * session ref or an unnamed session's environment id, as podman takes short container
 * ids (names are taken whole).  A start of
 * more than one is an error listing them. */
typedef struct cli_ref {
        char *process; /* the process named, or NULL when a session was */
        char *env;     /* the session named (its environment id), or NULL */
        char *first;   /* with env: its first process (the command of 'nook run'), or NULL */
} cli_ref;
void cli_ref_done(cli_ref *r);
/* -ENOENT (nothing said) when arg names nothing; else as cli_ref_resolve. */
int cli_ref_lookup(nook_runtime *rt, const char *arg, cli_ref *ret);
/* EXIT_NOOK after reporting. */
int cli_ref_resolve(nook_runtime *rt, const char *arg, cli_ref *ret);
/* A session as above (process refs are not taken); its environment id. */
int cli_session_resolve(nook_runtime *rt, const char *arg, char **ret_env);
/* A process, or a session's first process. */
int cli_process_resolve(nook_runtime *rt, const char *arg, char **ret_ref);

/* A session and a process as session ls/inspect --json and inspect show them (NULL on
 * ENOMEM); cmd-session.c. */
json_t *cli_json_session(const cli_session_row *r);
json_t *cli_json_process(const cli_process_row *p);

#endif
