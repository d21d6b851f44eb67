/* nook userns — libarchive, loaded with dlopen(3) on the first image import or save: linked,
 * it pulled libxml2, ICU and libstdc++ into every nook process (20 libraries, the
 * largest part of the client's start).  Code that reads or writes archives includes this header
 * instead of <archive.h> and calls nook_archive_load() before its first archive_*()
 * call; the calls themselves read as usual (each name is a macro for a pointer). */
#ifndef NOOK_USERNS_ARCHIVE_DL_H
#define NOOK_USERNS_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

#include "nook/error.h"

#define NOOK_ARCHIVE_FUNCS(X)                      \
        X(archive_error_string)                    \
        X(archive_errno)                           \
        X(archive_set_error)                       \
        X(archive_filter_code)                     \
        X(archive_filter_name)                     \
        X(archive_read_new)                        \
        X(archive_read_free)                       \
        X(archive_read_support_filter_all)         \
        X(archive_read_support_filter_gzip)        \
        X(archive_read_support_filter_zstd)        \
        X(archive_read_support_filter_none)        \
        X(archive_read_support_format_tar)         \
        X(archive_read_support_format_empty)       \
        X(archive_read_open)                       \
        X(archive_read_open_filename)              \
        X(archive_read_next_header)                \
        X(archive_read_data)                       \
        X(archive_read_data_block)                 \
        X(archive_entry_pathname)                  \
        X(archive_entry_hardlink)                  \
        X(archive_entry_symlink)                   \
        X(archive_entry_filetype)                  \
        X(archive_entry_perm)                      \
        X(archive_entry_size)                      \
        X(archive_entry_uid)                       \
        X(archive_entry_gid)                       \
        X(archive_entry_mtime)                     \
        X(archive_entry_mtime_nsec)                \
        X(archive_entry_xattr_reset)               \
        X(archive_entry_xattr_next)                \
        X(archive_entry_copy_stat)                 \
        X(archive_entry_free)                      \
        X(archive_entry_linkify)                   \
        X(archive_entry_linkresolver_free)         \
        X(archive_entry_linkresolver_new)          \
        X(archive_entry_linkresolver_set_strategy) \
        X(archive_entry_new)                       \
        X(archive_entry_set_filetype)              \
        X(archive_entry_set_gid)                   \
        X(archive_entry_set_gname)                 \
        X(archive_entry_set_mtime)                 \
        X(archive_entry_set_nlink)                 \
        X(archive_entry_set_pathname)              \
        X(archive_entry_set_perm)                  \
        X(archive_entry_set_size)                  \
        X(archive_entry_set_symlink)               \
        X(archive_entry_set_uid)                   \
        X(archive_entry_set_uname)                 \
        X(archive_entry_unset_atime)               \
        X(archive_entry_unset_ctime)               \
        X(archive_write_close)                     \
        X(archive_write_data)                      \
        X(archive_write_free)                      \
        X(archive_write_header)                    \
        X(archive_write_new)                       \
        X(archive_write_open)                      \
        X(archive_write_open_fd)                   \
        X(archive_write_set_bytes_in_last_block)   \
        X(archive_write_set_format_pax_restricted)

#define NOOK_ARCHIVE_PTR(name) __typeof__(name) *name;
typedef struct nook_archive_api {
        NOOK_ARCHIVE_FUNCS(NOOK_ARCHIVE_PTR)
} nook_archive_api;
#undef NOOK_ARCHIVE_PTR

extern nook_archive_api nook_archive;

/* 0 once libarchive is loaded (the first call loads it, later ones return at once);
 * -ENOENT with an error naming the library and the package to install. */
int nook_archive_load(nook_error **err);

#ifndef NOOK_ARCHIVE_DL_IMPL
#define archive_error_string (nook_archive.archive_error_string)
#define archive_errno (nook_archive.archive_errno)
#define archive_set_error (nook_archive.archive_set_error)
#define archive_filter_code (nook_archive.archive_filter_code)
#define archive_filter_name (nook_archive.archive_filter_name)
#define archive_read_new (nook_archive.archive_read_new)
#define archive_read_free (nook_archive.archive_read_free)
#define archive_read_support_filter_all (nook_archive.archive_read_support_filter_all)
#define archive_read_support_filter_gzip (nook_archive.archive_read_support_filter_gzip)
#define archive_read_support_filter_zstd (nook_archive.archive_read_support_filter_zstd)
#define archive_read_support_filter_none (nook_archive.archive_read_support_filter_none)
#define archive_read_support_format_tar (nook_archive.archive_read_support_format_tar)
#define archive_read_support_format_empty (nook_archive.archive_read_support_format_empty)
#define archive_read_open (nook_archive.archive_read_open)
#define archive_read_open_filename (nook_archive.archive_read_open_filename)
#define archive_read_next_header (nook_archive.archive_read_next_header)
#define archive_read_data (nook_archive.archive_read_data)
#define archive_read_data_block (nook_archive.archive_read_data_block)
#define archive_entry_pathname (nook_archive.archive_entry_pathname)
#define archive_entry_hardlink (nook_archive.archive_entry_hardlink)
#define archive_entry_symlink (nook_archive.archive_entry_symlink)
#define archive_entry_filetype (nook_archive.archive_entry_filetype)
#define archive_entry_perm (nook_archive.archive_entry_perm)
#define archive_entry_size (nook_archive.archive_entry_size)
#define archive_entry_uid (nook_archive.archive_entry_uid)
#define archive_entry_gid (nook_archive.archive_entry_gid)
#define archive_entry_mtime (nook_archive.archive_entry_mtime)
#define archive_entry_mtime_nsec (nook_archive.archive_entry_mtime_nsec)
#define archive_entry_xattr_reset (nook_archive.archive_entry_xattr_reset)
#define archive_entry_xattr_next (nook_archive.archive_entry_xattr_next)
#define archive_entry_copy_stat (nook_archive.archive_entry_copy_stat)
#define archive_entry_free (nook_archive.archive_entry_free)
#define archive_entry_linkify (nook_archive.archive_entry_linkify)
#define archive_entry_linkresolver_free (nook_archive.archive_entry_linkresolver_free)
#define archive_entry_linkresolver_new (nook_archive.archive_entry_linkresolver_new)
#define archive_entry_linkresolver_set_strategy (nook_archive.archive_entry_linkresolver_set_strategy)
#define archive_entry_new (nook_archive.archive_entry_new)
#define archive_entry_set_filetype (nook_archive.archive_entry_set_filetype)
#define archive_entry_set_gid (nook_archive.archive_entry_set_gid)
#define archive_entry_set_gname (nook_archive.archive_entry_set_gname)
#define archive_entry_set_mtime (nook_archive.archive_entry_set_mtime)
#define archive_entry_set_nlink (nook_archive.archive_entry_set_nlink)
#define archive_entry_set_pathname (nook_archive.archive_entry_set_pathname)
#define archive_entry_set_perm (nook_archive.archive_entry_set_perm)
#define archive_entry_set_size (nook_archive.archive_entry_set_size)
#define archive_entry_set_symlink (nook_archive.archive_entry_set_symlink)
#define archive_entry_set_uid (nook_archive.archive_entry_set_uid)
#define archive_entry_set_uname (nook_archive.archive_entry_set_uname)
#define archive_entry_unset_atime (nook_archive.archive_entry_unset_atime)
#define archive_entry_unset_ctime (nook_archive.archive_entry_unset_ctime)
#define archive_write_close (nook_archive.archive_write_close)
#define archive_write_data (nook_archive.archive_write_data)
#define archive_write_free (nook_archive.archive_write_free)
#define archive_write_header (nook_archive.archive_write_header)
#define archive_write_new (nook_archive.archive_write_new)
#define archive_write_open (nook_archive.archive_write_open)
#define archive_write_open_fd (nook_archive.archive_write_open_fd)
#define archive_write_set_bytes_in_last_block (nook_archive.archive_write_set_bytes_in_last_block)
#define archive_write_set_format_pax_restricted (nook_archive.archive_write_set_format_pax_restricted)
#endif

#endif
