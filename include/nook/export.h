/* nook — symbol visibility for the public API. */
#ifndef NOOK_EXPORT_H
#define NOOK_EXPORT_H

#if defined(__GNUC__)
#define NOOK_EXPORT __attribute__((visibility("default")))
#else
#define NOOK_EXPORT
#endif

#endif
