/* nook userns — the named secret store: `nook secret` (nook/secret.h) and the values
 * prepare_secrets takes by name (secretstore.h), kept in the kernel's per-user keyring
 * through libkeyutils: add_key(2), keyctl(2), request_key(2); keyrings(7),
 * user-keyring(7), session-keyring(7). */
#include <errno.h>
#include <keyutils.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nook/secret.h"
#include "userns/secretstore.h"
#include "util/error.h"
#include "util/secmem.h"

#define DESC_PREFIX "nook:secret:"
#define DRIVER "keyring"
#define ALTERNATIVES                                                                                              \
        "give the value with --secret-source REF=file:PATH (a file on a tmpfs such as /dev/shm), REF=env:VAR or " \
        "REF=fd:N instead"

/* Why the keyring cannot hold secrets here: the constant sentences of
 * nook_secret_store_get's *ret_why, and the messages of every nook_secret_* call. */
static const char why_nosys[] = "the kernel keyring is not available here: keyctl fails with ENOSYS (a kernel "
                                "without key management, or a seccomp filter that hides it); " ALTERNATIVES;
static const char why_refused[] = "the kernel keyring is not available here: keyctl is refused (a seccomp filter, as "
                                  "docker's and podman's default profiles and nook's own sandboxes have, or a "
                                  "security module); " ALTERNATIVES;
static const char why_unreached[] =
        "the kernel keyring is not available here: this process's session keyring does not link your user keyring "
        "(a private session keyring, as systemd's KeyringMode=private makes; 'keyctl link @u @s' links them), so "
        "keys kept there for their possessor only cannot be read back; " ALTERNATIVES;

typedef struct entry {
        nook_secret_info info; /* first: a nook_secret_info * of nook_secret_inspect is an entry * */
        char name[NOOK_SECRET_NAME_MAX + 1];
} entry;

struct nook_secrets {
        entry *v;
        size_t n;
};

static bool name_char(char c, bool first) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        return alnum || (!first && (c == '.' || c == '_' || c == '-'));
}

static bool name_ok(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > NOOK_SECRET_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!name_char(name[i], i == 0))
                        return false;
        return true;
}

int nook_secret_store_name_check(const char *name, nook_error **err) {
        if (!name || !*name)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "a secret name cannot be empty");
        size_t n = strlen(name);
        /* the name as a message shows it: printable ASCII, at most 64 bytes */
        char shown[72];
        size_t k = 0;
        for (; k < n && k < 64; k++)
                shown[k] = name[k] >= ' ' && name[k] < 0x7f && name[k] != '\'' ? name[k] : '?';
        snprintf(shown + k, sizeof(shown) - k, "%s", k < n ? "..." : "");
        if (n > NOOK_SECRET_NAME_MAX)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "secret name '%s' is %zu bytes long: a name has at most %d", shown, n,
                                      NOOK_SECRET_NAME_MAX);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)name[i];
                if (name_char((char)c, i == 0))
                        continue;
                char what[16];
                if (c >= ' ' && c < 0x7f)
                        snprintf(what, sizeof(what), "'%c'", c);
                else
                        snprintf(what, sizeof(what), "the byte 0x%02x", c);
                if (i == 0)
                        return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                              "secret name '%s' starts with %s: a name starts with a letter or a "
                                              "digit",
                                              shown, what);
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "secret name '%s' holds %s: a name is letters, digits, '.', '_' and '-'", shown,
                                      what);
        }
        return 0;
}

int nook_secret_name_check(const char *name, nook_error **err) {
        return nook_secret_store_name_check(name, err);
}

/* -EOPNOTSUPP with *ret_why for the errno of a key call that says keys are unusable
 * here, else -errnum. */
static int unusable(int errnum, const char **ret_why) {
        const char *why = errnum == ENOSYS ? why_nosys : errnum == EPERM || errnum == EACCES ? why_refused : NULL;
        if (!why)
                return -errnum;
        if (ret_why)
                *ret_why = why;
        return -EOPNOTSUPP;
}

/* The user keyring's id, when this process possesses it: when a search of its thread,
 * process and session keyrings (request_key(2) without a callout: no upcall, no link)
 * reaches it.  Only then can the possessor-only keys kept there be read back: a lookup
 * by id grants the possessor's rights only to keys found from those keyrings
 * (keyrings(7), "Possession").  Without a session keyring of its own, a process gets
 * the user session keyring, which links the user keyring; pam_keyinit's does too; a
 * private one (systemd's KeyringMode=private) does not.  -EOPNOTSUPP with *ret_why
 * when the keyring is unusable here, another -errno otherwise. */
static int store_open(key_serial_t *ret, const char **ret_why) {
        key_serial_t ring = keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1);
        if (ring < 0)
                return unusable(errno, ret_why);
        char desc[32];
        snprintf(desc, sizeof(desc), "_uid.%u", (unsigned)getuid());
        key_serial_t found = request_key("keyring", desc, NULL, 0);
        if (found < 0 && errno != ENOKEY)
                return unusable(errno, ret_why);
        if (found != ring) {
                if (ret_why)
                        *ret_why = why_unreached;
                return -EOPNOTSUPP;
        }
        *ret = ring;
        return 0;
}

static int open_or_fail(key_serial_t *ret, nook_error **err) {
        const char *why = NULL;
        int r = store_open(ret, &why);
        if (r == -EOPNOTSUPP)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
                                      EOPNOTSUPP, "%s", why);
        if (r < 0)
                return nook_error_sys(err, -r, "the secret store: looking up your user keyring");
        return 0;
}

/* Fills e when key id is a secret of the store: a "user" key described
 * "nook:secret:NAME" with NAME in the grammar, whose value's size this process may read.
 * 1 then; 0 for any other key, or one that went away meanwhile. */
static int describe_entry(key_serial_t id, entry *e) {
        _cleanup_free_ char *d = NULL;
        if (keyctl_describe_alloc(id, &d) < 0)
                return 0;
        /* "type;uid;gid;perm;description" (keyctl_describe(3)) */
        char type[16];
        unsigned uid, gid, perm;
        int off = 0;
        if (sscanf(d, "%15[^;];%u;%u;%x;%n", type, &uid, &gid, &perm, &off) != 4 || off == 0)
                return 0;
        const char *desc = d + off;
        if (strcmp(type, "user") != 0 || strncmp(desc, DESC_PREFIX, strlen(DESC_PREFIX)) != 0)
                return 0;
        const char *name = desc + strlen(DESC_PREFIX);
        if (!name_ok(name))
                return 0;
        /* the size alone: without a buffer the kernel copies nothing (user_read()) */
        long size = keyctl_read(id, NULL, 0);
        if (size <= 0)
                return 0;
        *e = (entry){ .info = { .size = (size_t)size, .driver = DRIVER, .key = id, .uid = uid, .permissions = perm } };
        memcpy(e->name, name, strlen(name) + 1);
        return 1;
}

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* The secrets linked in the user keyring ring, sorted by name; with only, the one of
 * that name (none or one).  -errno on failure (no message set). */
static int list_entries(key_serial_t ring, const char *only, entry **ret, size_t *ret_n) {
        _cleanup_free_ void *ids = NULL;
        long bytes = keyctl_read_alloc(ring, &ids);
        if (bytes < 0)
                return negative_errno();
        size_t n_ids = (size_t)bytes / sizeof(key_serial_t), n = 0;
        _cleanup_free_ entry *v = calloc(n_ids ? n_ids : 1, sizeof(entry));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_ids; i++) {
                key_serial_t id;
                memcpy(&id, (const char *)ids + i * sizeof(id), sizeof(id));
                if (describe_entry(id, &v[n]) == 1 && (!only || strcmp(v[n].name, only) == 0))
                        n++;
        }
        qsort(v, n, sizeof(entry), entry_cmp);
        for (size_t i = 0; i < n; i++)
                v[i].info.name = v[i].name;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* The secret named name in ring: 1 and *e, 0 when there is none, -errno (set). */
static int find_entry(key_serial_t ring, const char *name, entry *e, nook_error **err) {
        _cleanup_free_ entry *v = NULL;
        size_t n = 0;
        int r = list_entries(ring, name, &v, &n);
        if (r < 0)
                return nook_error_sys(err, -r, "the secret store: reading your user keyring");
        if (n == 0)
                return 0;
        *e = v[0];
        e->info.name = e->name;
        return 1;
}

static int no_such_secret(const char *name, nook_error **err) {
        return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, ENOENT,
                              "no secret named '%s' (nook secret ls lists them)", name);
}

/* "K of MAXK keys and B of MAXB bytes" in use by this user, from /proc/key-users
 * ("uid: usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes", keyrings(7)). */
static void quota_use(char *buf, size_t size) {
        snprintf(buf, size, "see /proc/key-users");
        _cleanup_fclose_ FILE *f = fopen("/proc/key-users", "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
                unsigned uid, keys, maxkeys, bytes, maxbytes;
                if (sscanf(line, " %u: %*d %*u/%*u %u/%u %u/%u", &uid, &keys, &maxkeys, &bytes, &maxbytes) == 5 &&
                    uid == (unsigned)getuid()) {
                        snprintf(buf, size, "%u of %u keys and %u of %u bytes in use", keys, maxkeys, bytes, maxbytes);
                        return;
                }
        }
}

/* The failure of a call that stores a key (add_key, keyctl_link, keyctl_update). */
static int store_failed(int errnum, const char *name, size_t len, nook_error **err) {
        if (errnum == EDQUOT) {
                char use[96];
                quota_use(use, sizeof(use));
                nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, EDQUOT,
                               "secret '%s' (%zu bytes) does not fit in the kernel's key quota of uid %u (%s): the "
                               "limits are /proc/sys/kernel/keys/maxbytes and /proc/sys/kernel/keys/maxkeys, which "
                               "only root can raise",
                               name, len, (unsigned)getuid(), use);
                nook_error_set_hint(err, "remove secrets you no longer need (nook secret rm NAME), or %s",
                                    ALTERNATIVES);
                return -EDQUOT;
        }
        const char *why = NULL;
        if (unusable(errnum, &why) == -EOPNOTSUPP)
                return nook_error_set(err, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_HOST_CONFIGURATION_NEEDED,
                                      EOPNOTSUPP, "%s", why);
        return nook_error_sys(err, errnum, "the secret store: storing secret '%s'", name);
}

static nook_secret_info *new_info(const char *name, size_t len, key_serial_t key, nook_error **err) {
        entry *e = calloc(1, sizeof(*e));
        if (!e) {
                nook_error_oom(err);
                return NULL;
        }
        memcpy(e->name, name, strlen(name) + 1);
        e->info = (nook_secret_info){ .name = e->name,
                                      .size = len,
                                      .driver = DRIVER,
                                      .key = key,
                                      .uid = (uint32_t)getuid(),
                                      .permissions = KEY_POS_ALL };
        return &e->info;
}

/* Revokes key, then unlinks it from ring: revoking frees the payload at once
 * (user_revoke(): kfree_sensitive after an RCU grace period) and leaves any other link
 * to the key useless; unlinking takes it out of ring, and with its last link the kernel
 * destroys it.  Not keyctl_invalidate(3): the garbage collector that then drops the link
 * does not give the keyring back its 4 bytes of link quota (KEYQUOTA_LINK_BYTES), so each
 * removal would cost the uid 4 of its 20000 bytes until reboot (seen in /proc/key-users
 * on Linux 6.18).  0 or the errno of the revocation or the unlink. */
static int destroy_key(key_serial_t key, key_serial_t ring) {
        if (keyctl_revoke(key) < 0)
                return errno;
        if (keyctl_unlink(key, ring) < 0 && errno != ENOENT)
                return errno;
        return 0;
}

/* A new key for name, made in this thread's keyring, given possessor-only permissions
 * there and only then linked into the user keyring: it is never in the user keyring
 * with the type's default permissions (which let any process of the uid view it), and a
 * failure midway leaves nothing there.  Linking displaces a key of the same type and
 * description (keyctl_link(3)): a racing create of the same name ends with one. */
static int create_key(const char *name, const void *value, size_t len, key_serial_t *ret, nook_error **err) {
        char desc[sizeof(DESC_PREFIX) + NOOK_SECRET_NAME_MAX];
        snprintf(desc, sizeof(desc), DESC_PREFIX "%s", name);
        key_serial_t key = add_key("user", desc, value, len, KEY_SPEC_THREAD_KEYRING);
        if (key < 0)
                return store_failed(errno, name, len, err);
        if (keyctl_setperm(key, KEY_POS_ALL) < 0) {
                int e = errno;
                (void)destroy_key(key, KEY_SPEC_THREAD_KEYRING);
                return nook_error_sys(err, e, "the secret store: making the key of secret '%s' its possessor's only",
                                      name);
        }
        if (keyctl_link(key, KEY_SPEC_USER_KEYRING) < 0) {
                int e = errno;
                (void)destroy_key(key, KEY_SPEC_THREAD_KEYRING);
                return store_failed(e, name, len, err);
        }
        (void)keyctl_unlink(key, KEY_SPEC_THREAD_KEYRING);
        *ret = key;
        return 0;
}

int nook_secret_create(const char *name, const void *value, size_t len, unsigned flags, nook_secret_info **ret,
                       nook_error **err) {
        int r = nook_secret_store_name_check(name, err);
        if (r < 0)
                return r;
        if (flags & ~NOOK_SECRET_REPLACE)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "nook_secret_create: unknown flags 0x%x", flags & ~NOOK_SECRET_REPLACE);
        if (!value || len == 0)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "the value of secret '%s' is empty: a secret holds 1 to %d bytes", name,
                                      NOOK_SECRET_VALUE_MAX);
        if (len > NOOK_SECRET_VALUE_MAX)
                return nook_error_set(err, NOOK_ERROR_CONTRACT_VIOLATION, NOOK_RETRY_NOT_RETRYABLE, EINVAL,
                                      "the value of secret '%s' is %zu bytes: a secret holds at most %d (the limit "
                                      "of the kernel's user keys)",
                                      name, len, NOOK_SECRET_VALUE_MAX);
        key_serial_t ring;
        if ((r = open_or_fail(&ring, err)) < 0)
                return r;
        entry old;
        if ((r = find_entry(ring, name, &old, err)) < 0)
                return r;
        if (r > 0 && !(flags & NOOK_SECRET_REPLACE))
                return nook_error_set(err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_USER_ACTION_NEEDED, EEXIST,
                                      "a secret named '%s' exists already (nook secret create --replace replaces "
                                      "its value, nook secret rm removes it)",
                                      name);
        key_serial_t key = r > 0 ? old.info.key : 0;
        /* --replace: the payload of the same key is swapped in one step (keyctl_update(3));
         * the kernel frees the old one with kfree_sensitive().  Its permissions are made
         * possessor-only first, in case another program made the key. */
        if (key && (keyctl_setperm(key, KEY_POS_ALL) < 0 || keyctl_update(key, value, len) < 0)) {
                int e = errno;
                if (e != ENOKEY && e != EKEYREVOKED && e != EKEYEXPIRED)
                        return store_failed(e, name, len, err);
                key = 0; /* removed meanwhile: made anew */
        }
        if (!key && (r = create_key(name, value, len, &key, err)) < 0)
                return r;
        if (ret && !(*ret = new_info(name, len, key, err)))
                return -ENOMEM;
        return 0;
}

/* The secret called name, with the keyring it is in: 0, or the error said. */
static int lookup(const char *name, key_serial_t *ring, entry *e, nook_error **err) {
        int r = nook_secret_store_name_check(name, err);
        if (r < 0 || (r = open_or_fail(ring, err)) < 0 || (r = find_entry(*ring, name, e, err)) < 0)
                return r;
        return r == 0 ? no_such_secret(name, err) : 0;
}

int nook_secret_inspect(const char *name, nook_secret_info **ret, nook_error **err) {
        key_serial_t ring;
        entry e;
        int r = lookup(name, &ring, &e, err);
        if (r < 0)
                return r;
        entry *copy = malloc(sizeof(*copy));
        if (!copy)
                return nook_error_oom(err);
        *copy = e;
        copy->info.name = copy->name;
        *ret = &copy->info;
        return 0;
}

nook_secret_info *nook_secret_info_free(nook_secret_info *info) {
        free(info); /* the first member of its entry */
        return NULL;
}

int nook_secret_list(nook_secrets **ret, nook_error **err) {
        key_serial_t ring;
        int r = open_or_fail(&ring, err);
        if (r < 0)
                return r;
        nook_secrets *l = calloc(1, sizeof(*l));
        if (!l)
                return nook_error_oom(err);
        if ((r = list_entries(ring, NULL, &l->v, &l->n)) < 0) {
                free(l);
                return nook_error_sys(err, -r, "the secret store: reading your user keyring");
        }
        *ret = l;
        return 0;
}

size_t nook_secrets_count(const nook_secrets *list) {
        return list ? list->n : 0;
}

const nook_secret_info *nook_secrets_get(const nook_secrets *list, size_t i) {
        return list && i < list->n ? &list->v[i].info : NULL;
}

nook_secrets *nook_secrets_free(nook_secrets *list) {
        if (list)
                free(list->v);
        free(list);
        return NULL;
}

int nook_secret_remove(const char *name, nook_error **err) {
        key_serial_t ring;
        entry e;
        int r = lookup(name, &ring, &e, err);
        if (r < 0)
                return r;
        int errnum = destroy_key(e.info.key, ring);
        if (errnum == ENOKEY || errnum == EKEYREVOKED || errnum == EKEYEXPIRED)
                return no_such_secret(name, err); /* removed meanwhile */
        if (errnum != 0)
                return nook_error_sys(err, errnum, "the secret store: removing secret '%s'", name);
        return 0;
}

/* ---- the interface of prepare_secrets ------------------------------------------------ */

int nook_secret_store_get(const char *name, void **ret_value, size_t *ret_len, const char **ret_why) {
        if (ret_why)
                *ret_why = NULL;
        if (nook_secret_store_name_check(name, NULL) < 0)
                return -EINVAL;
        key_serial_t ring;
        int r = store_open(&ring, ret_why);
        if (r < 0)
                return r;
        _cleanup_free_ entry *v = NULL;
        size_t n = 0;
        if ((r = list_entries(ring, name, &v, &n)) < 0)
                return r;
        if (n == 0)
                return -ENOENT;
        /* the size first, then the bytes into locked memory of that size; a value replaced
         * in between (another size) is read again */
        for (unsigned tries = 0; tries < 4; tries++) {
                long size = keyctl_read(v[0].info.key, NULL, 0);
                if (size <= 0)
                        return size == 0 || errno == ENOKEY || errno == EKEYREVOKED || errno == EKEYEXPIRED
                                       ? -ENOENT
                                       : negative_errno();
                char *buf = nook_secmem_alloc((size_t)size);
                if (!buf)
                        return -ENOMEM;
                long got = keyctl_read(v[0].info.key, buf, (size_t)size);
                if (got == size) {
                        *ret_value = buf;
                        *ret_len = (size_t)size;
                        return 0;
                }
                int e = errno;
                nook_secmem_free(buf, (size_t)size);
                if (got < 0)
                        return e == ENOKEY || e == EKEYREVOKED || e == EKEYEXPIRED ? -ENOENT : -e;
        }
        return -EAGAIN;
}

void nook_secret_store_value_free(void *value, size_t len) {
        nook_secmem_free(value, len);
}
