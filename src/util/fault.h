/* nook util — fault injection at named points (test builds: -Dfault_injection=true).
 * NOOK_FAULT="<point>:<action>[,<point>:<action>...]", action "kill" (SIGKILL to self)
 * or "errno=E" (E a number or a name such as ENOSPC). */
#ifndef NOOK_UTIL_FAULT_H
#define NOOK_UTIL_FAULT_H

/* 0 when no fault is armed at point; otherwise kills the process or returns -E. */
int nook_fault(const char *point);

#endif
