/* nook util — the clocks nook reads: wall time for records a person reads (journal rows,
 * exit records, created_ms), the monotonic clock for deadlines and durations. */
#ifndef NOOK_UTIL_CLOCK_H
#define NOOK_UTIL_CLOCK_H

#include <stdint.h>

/* CLOCK_REALTIME in milliseconds since the epoch. */
int64_t nook_wall_ms(void);

/* CLOCK_MONOTONIC in milliseconds and in microseconds. */
int64_t nook_mono_ms(void);
uint64_t nook_mono_us(void);

#endif
