/* nook CLI — `nook serve`, shared by its two halves: cmd-serve.c (the transport: stdio or
 * a Unix socket, connections, signals, lines) and serve-rpc.c (JSON-RPC 2.0: messages,
 * batches, the ordered queue, the workers, waits and subscriptions, cancellation). */
#ifndef NOOK_CLI_SERVE_H
#define NOOK_CLI_SERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "nook/nook.h"

#define SERVE_DEFAULT_WORKERS 8
#define SERVE_MAX_WORKERS 64
#define SERVE_MAX_QUEUED 1024              /* per connection: requests read but not started */
#define SERVE_MAX_QUEUED_BYTES (64u << 20) /* per connection: their params */
#define SERVE_MAX_WATCHES 256              /* wait_exit and subscribe_output running at once */
#define SERVE_MAX_CONNS 256                /* socket connections at once */
#define SERVE_MAX_OUTPUT (64u << 20)       /* answers a client has not read yet */
#define SERVE_WATCH_SLICE_MS 200           /* how often a wait looks at its cancel flag */

typedef struct serve serve;
typedef struct serve_job serve_job;
typedef struct serve_watch serve_watch;

/* One client: stdin/stdout, or one accepted socket.  Answers are appended to `out`
 * under `lock` (one whole line at a time, so they never interleave) and written by the
 * connection's own writer thread: a client that reads slowly stalls only itself. */
typedef struct serve_conn {
        serve *s;
        int in_fd, out_fd;
        bool own_fds; /* a socket: closed when the connection is freed */
        unsigned no;  /* for the server's messages */
        /* the line being read (main thread only) */
        char *line;
        size_t len, cap;
        bool too_long;
        /* guarded by lock */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *out;
        size_t out_len, out_cap;
        bool broken;   /* a write failed: later answers are dropped */
        unsigned refs; /* the reader's, the writer's, one per answer still owed */
        /* jobs of this connection waiting in the queue, and their params' bytes (guarded by
         * s->lock): past either limit the connection is not read */
        size_t queued, queued_bytes;
} serve_conn;

/* Where an answer goes: a connection, alone or into a slot of a batch; id NULL for a
 * notification (it runs, nothing is sent). */
typedef struct serve_batch serve_batch;
typedef struct serve_reply {
        serve_conn *c;
        json_t *id;
        serve_batch *batch;
        size_t slot;
} serve_reply;

struct serve {
        pthread_mutex_t lock;
        pthread_cond_t work; /* a job was queued, or a running one freed its key */
        serve_job *head, *tail;
        unsigned n_workers;
        pthread_t workers[SERVE_MAX_WORKERS];
        nook_runtime *runtimes[SERVE_MAX_WORKERS]; /* one per worker: a runtime is not shared */
        const char *running[SERVE_MAX_WORKERS];    /* the ordering key each worker holds */
        bool stopping;                             /* workers leave once the queue is empty */
        bool shutting_down;                        /* a signal came: queued work is cancelled */
        serve_watch *watches;
        unsigned n_watches;
        unsigned n_conns;
        unsigned conn_counter; /* numbers connections in messages */
        int wake_fd;           /* eventfd: the main loop looks again (room in a queue, a connection gone) */
};

/* ---- serve-rpc.c ---- */

int serve_start_workers(serve *s);
/* Waits for the queue to empty and joins the workers. */
void serve_stop_workers(serve *s);
/* One line of input (without its newline): a message or a batch, answered (or queued). */
void serve_line(serve_conn *c, const char *line, size_t len);
/* A line longer than NOOK_MAX_REQUEST_BYTES: refused as an invalid request. */
void serve_line_too_long(serve_conn *c, size_t len);
/* A signal: answers every queued request and running wait with Cancellation. */
void serve_cancel_all(serve *s);
void serve_wake(serve *s);

/* ---- cmd-serve.c ---- */

serve_conn *serve_conn_ref(serve_conn *c);
void serve_conn_unref(serve_conn *c);
/* Appends one line (a newline is added) to the connection's output; takes text. */
void serve_conn_send(serve_conn *c, char *text);
/* The same with c->lock held. */
void serve_conn_send_locked(serve_conn *c, char *text);

#endif
