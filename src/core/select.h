/* nook core — selection and the downgrade rule: does this adapter, on this host,
 * satisfy the environment's requirement? */
#ifndef NOOK_CORE_SELECT_H
#define NOOK_CORE_SELECT_H

#include "core/contract.h"

/* 0 when the adapter may serve the environment.  A required capability or isolation
 * class the report lacks is a PolicyDenial unless the requirement's fallback is
 * allow_if_package_and_policy_approve, in which case *ret_downgrade (may be NULL)
 * gets a one-line note of what was accepted (newly allocated; NULL when nothing was
 * missing).  accepted_adapters, when non-empty, must hold a class the report provides. */
int nook_select_check(const nook_environment *env, const char *runtime_ref, const nook_capability_report *report,
                      char **ret_downgrade, nook_error **err);

#endif
