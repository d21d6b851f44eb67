/* nook util — start-path trace points for the benchmarks (tests/bench/bench.py): with
 * NOOK_TRACE_FD=N in the environment, each point appends "<CLOCK_MONOTONIC ns> <pid>
 * <name>\n" to fd N in one write(2); without it a point costs one branch.  The fd is
 * the caller's own (a file or pipe it opened); nothing else is ever written to it. */
#ifndef NOOK_UTIL_TRACE_H
#define NOOK_UTIL_TRACE_H

void nook_trace(const char *point);

#endif
