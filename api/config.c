/* config.c: `signet serve --config FILE` (CONTRACT section 5): the JSON file is
 * size-capped, parsed with duplicate keys refused, then walked strictly: every
 * unknown key, wrong type, missing required key, bad duration, over-long
 * string and missing file stops start-up with a message naming the key path. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"

#define MAX_DURATION_S ((int64_t)3650 * 86400)
#define KEY_PATH_LEN   96

/* ---- Durations ---- */

enum api_err api_duration_parse(const char *s, size_t len, int64_t *out_seconds,
                                struct api_error *err)
{
    enum api_err rc = API_OK;
    char buf[32];

    /* At most 20 digits and a unit; the digits are checked before strtoull so
     * that it sees no sign, space or base prefix. */
    ENSURE(s != NULL && len >= 2 && len < sizeof(buf), API_ERR_BAD_REQUEST,
           "a duration is an integer and a unit (s, m, h or d)");
    for (size_t i = 0; i + 1 < len; i++) {
        ENSURE(s[i] >= '0' && s[i] <= '9', API_ERR_BAD_REQUEST,
               "a duration is an integer and a unit (s, m, h or d)");
    }
    int64_t unit = 0;
    switch (s[len - 1]) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            break;
    }
    ENSURE(unit != 0, API_ERR_BAD_REQUEST, "a duration's unit is s, m, h or d");
    memcpy(buf, s, len - 1);
    buf[len - 1] = '\0';
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(buf, &end, 10);
    ENSURE(errno == 0 && end == buf + len - 1, API_ERR_BAD_REQUEST, "duration out of range");
    int64_t seconds = 0;
    ENSURE(n <= (unsigned long long)MAX_DURATION_S &&
               !__builtin_mul_overflow((int64_t)n, unit, &seconds),
           API_ERR_BAD_REQUEST, "duration out of range (at most 3650d)");
    ENSURE(seconds > 0, API_ERR_BAD_REQUEST, "a duration must be positive");
    ENSURE(seconds <= MAX_DURATION_S, API_ERR_BAD_REQUEST, "duration out of range (at most 3650d)");
    *out_seconds = seconds;
out:
    return rc;
}

/* ---- DNS names ---- */

int api_dns_name_check(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > CA_MAX_DNS_NAME_LEN) {
        return 0;
    }
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            /* No empty label, no label ending in '-'. */
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0)) {
            return 0;
        }
        if (++label > 63) {
            return 0;
        }
    }
    return label > 0 && s[len - 1] != '-';
}

/* ---- The JSON walk ---- */

/* struct walk is what every step needs: the error and the config's folder. */
struct walk {
    struct api_error *err;
    char dir[API_MAX_PATH_LEN]; /* "" when the config sits in the current folder */
};

/* key_name writes "path.key" (or "key" at the top) into |buf|. */
static const char *key_name(char *buf, size_t size, const char *path, const char *key)
{
    int n =
        path[0] == '\0' ? snprintf(buf, size, "%s", key) : snprintf(buf, size, "%s.%s", path, key);
    if (n < 0) {
        buf[0] = '\0';
    }
    return buf;
}

/* check_keys refuses any key of |obj| not in |allowed|. */
static enum api_err check_keys(struct walk *w, json_t *obj, const char *path,
                               const char *const *allowed, size_t num_allowed)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    const char *key = NULL;
    json_t *value = NULL;
    char name[KEY_PATH_LEN];

    json_object_foreach(obj, key, value)
    {
        int known = 0;
        for (size_t i = 0; i < num_allowed && !known; i++) {
            known = strcmp(key, allowed[i]) == 0;
        }
        /* The key comes from the file: print a bounded part of it. */
        ENSURE(known, API_ERR_BAD_REQUEST, "%.64s: unknown key",
               key_name(name, sizeof(name), path, key));
    }
out:
    return rc;
}

/* get_member returns |obj|.|key| or NULL; absent required keys are an error. */
static enum api_err get_member(struct walk *w, const json_t *obj, const char *path, const char *key,
                               int required, json_t **out)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    char name[KEY_PATH_LEN];

    *out = json_object_get(obj, key);
    ENSURE(*out != NULL || !required, API_ERR_BAD_REQUEST, "%s: required key missing",
           key_name(name, sizeof(name), path, key));
out:
    return rc;
}

static enum api_err get_object(struct walk *w, const json_t *obj, const char *path, const char *key,
                               int required, json_t **out)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    char name[KEY_PATH_LEN];

    TRY(get_member(w, obj, path, key, required, out));
    ENSURE(*out == NULL || json_is_object(*out), API_ERR_BAD_REQUEST, "%s: expected an object",
           key_name(name, sizeof(name), path, key));
out:
    return rc;
}

/* copy_string checks that |v| (named |name|) is a non-empty string without NUL
 * bytes that fits |dst| and copies it. */
static enum api_err copy_string(struct walk *w, const json_t *v, const char *name, char *dst,
                                size_t dst_size)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;

    ENSURE(json_is_string(v), API_ERR_BAD_REQUEST, "%s: expected a string", name);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    ENSURE(len > 0, API_ERR_BAD_REQUEST, "%s: must not be empty", name);
    ENSURE(strlen(s) == len, API_ERR_BAD_REQUEST, "%s: must not contain NUL bytes", name);
    ENSURE(len < dst_size, API_ERR_BAD_REQUEST, "%s: longer than %zu bytes", name, dst_size - 1);
    memcpy(dst, s, len + 1);
out:
    return rc;
}

/* get_string copies |obj|.|key| into |dst|; an absent optional key leaves |dst|. */
static enum api_err get_string(struct walk *w, const json_t *obj, const char *path, const char *key,
                               int required, char *dst, size_t dst_size)
{
    enum api_err rc = API_OK;
    json_t *v = NULL;
    char name[KEY_PATH_LEN];

    TRY(get_member(w, obj, path, key, required, &v));
    if (v == NULL) {
        goto out;
    }
    TRY(copy_string(w, v, key_name(name, sizeof(name), path, key), dst, dst_size));
out:
    return rc;
}

/* get_duration parses |obj|.|key| into |*dst|; an absent key leaves the default. */
static enum api_err get_duration(struct walk *w, const json_t *obj, const char *path,
                                 const char *key, int64_t *dst, int *out_given)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *v = NULL;
    char name[KEY_PATH_LEN];
    struct api_error perr;

    key_name(name, sizeof(name), path, key);
    TRY(get_member(w, obj, path, key, 0, &v));
    if (out_given != NULL) {
        *out_given = v != NULL;
    }
    if (v == NULL) {
        goto out;
    }
    ENSURE(json_is_string(v), API_ERR_BAD_REQUEST, "%s: expected a duration string such as \"1h\"",
           name);
    ENSURE(api_duration_parse(json_string_value(v), json_string_length(v), dst, &perr) == API_OK,
           API_ERR_BAD_REQUEST, "%s: %s", name, perr.msg);
out:
    return rc;
}

/* get_string_array copies the strings of |obj|.|key| into rows of |stride|
 * bytes at |dst| (room for API_MAX_LIST) and sets |*out_num|. Each entry is
 * checked with |check| when it is non-NULL. */
static enum api_err get_string_array(struct walk *w, const json_t *obj, const char *path,
                                     const char *key, int required, char *dst, size_t stride,
                                     size_t *out_num, int (*check)(const char *s, size_t len),
                                     const char *what)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *v = NULL;
    char name[KEY_PATH_LEN];
    char item[KEY_PATH_LEN + 8];

    key_name(name, sizeof(name), path, key);
    TRY(get_member(w, obj, path, key, required, &v));
    if (v == NULL) {
        goto out;
    }
    ENSURE(json_is_array(v), API_ERR_BAD_REQUEST, "%s: expected an array", name);
    size_t num = json_array_size(v);
    ENSURE(num <= API_MAX_LIST, API_ERR_BAD_REQUEST, "%s: at most %d entries", name, API_MAX_LIST);
    ENSURE(num > 0 || !required, API_ERR_BAD_REQUEST, "%s: must not be empty", name);
    for (size_t i = 0; i < num; i++) {
        snprintf(item, sizeof(item), "%s[%zu]", name, i);
        char *row = dst + i * stride;
        TRY(copy_string(w, json_array_get(v, i), item, row, stride));
        ENSURE(check == NULL || check(row, strlen(row)), API_ERR_BAD_REQUEST, "%s: not a valid %s",
               item, what);
    }
    *out_num = num;
out:
    return rc;
}

/* resolve_path makes |rel| relative to the config's folder when it is not absolute. */
static enum api_err resolve_path(struct walk *w, const char *name, char *path, size_t size)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    char joined[API_MAX_PATH_LEN];

    if (path[0] == '/' || w->dir[0] == '\0') {
        goto out;
    }
    size_t dir_len = strlen(w->dir);
    const char *sep = w->dir[dir_len - 1] == '/' ? "" : "/";
    int n = snprintf(joined, sizeof(joined), "%s%s%s", w->dir, sep, path);
    ENSURE(n > 0 && (size_t)n < size && (size_t)n < sizeof(joined), API_ERR_BAD_REQUEST,
           "%s: path too long", name);
    memcpy(path, joined, (size_t)n + 1);
out:
    return rc;
}

/* check_file requires |path| to be a readable regular file. */
static enum api_err check_file(struct walk *w, const char *name, const char *path)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    struct stat st;

    /* An operator message: the path helps, the contents are never read here. */
    ENSURE(stat(path, &st) == 0, API_ERR_BAD_REQUEST, "%s: file not found: %.100s", name, path);
    ENSURE(S_ISREG(st.st_mode), API_ERR_BAD_REQUEST, "%s: not a regular file: %.100s", name, path);
    ENSURE(access(path, R_OK) == 0, API_ERR_BAD_REQUEST, "%s: file not readable: %.100s", name,
           path);
out:
    return rc;
}

/* get_path reads a path, resolves it, and (when |must_exist|) checks the file. */
static enum api_err get_path(struct walk *w, const json_t *obj, const char *path, const char *key,
                             int required, int must_exist, char *dst, size_t dst_size)
{
    enum api_err rc = API_OK;
    char name[KEY_PATH_LEN];

    key_name(name, sizeof(name), path, key);
    TRY(get_string(w, obj, path, key, required, dst, dst_size));
    if (dst[0] == '\0') {
        goto out;
    }
    TRY(resolve_path(w, name, dst, dst_size));
    if (must_exist) {
        TRY(check_file(w, name, dst));
    }
out:
    return rc;
}

/* ---- Field checks ---- */

/* port_check parses a decimal port 1..65535. */
static int port_check(const char *s, size_t len)
{
    char buf[8];
    if (len == 0 || len > 5) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long port = strtoull(buf, &end, 10);
    return errno == 0 && end == buf + len && port >= 1 && port <= 65535;
}

/* listen_check accepts "host:port" and "[ipv6]:port". */
static int listen_check(const char *s, size_t len)
{
    char host[64];
    const char *colon = memrchr(s, ':', len);
    if (colon == NULL || colon == s) {
        return 0;
    }
    size_t host_len = (size_t)(colon - s);
    if (!port_check(colon + 1, len - host_len - 1)) {
        return 0;
    }
    if (s[0] == '[') {
        if (host_len < 3 || s[host_len - 1] != ']' || host_len - 2 >= sizeof(host)) {
            return 0;
        }
        memcpy(host, s + 1, host_len - 2);
        host[host_len - 2] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, host, &a6) == 1;
    }
    for (size_t i = 0; i < host_len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-';
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int ip_check(const char *s, size_t len)
{
    (void)len;
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* url_check accepts an http(s) URL without spaces, query, fragment or a
 * trailing '/', since "/ocsp", "/crl" and "/ca.crt" are appended to it. */
static int url_check(const char *s, size_t len)
{
    size_t scheme = 0;
    if (len > 7 && memcmp(s, "http://", 7) == 0) {
        scheme = 7;
    } else if (len > 8 && memcmp(s, "https://", 8) == 0) {
        scheme = 8;
    } else {
        return 0;
    }
    for (size_t i = scheme; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '"' || c == '\\') {
            return 0;
        }
    }
    return s[len - 1] != '/';
}

/* name_check: provisioner names are what tokens carry in `iss`. */
static int name_check(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
        if (!ok) {
            return 0;
        }
    }
    return len > 0;
}

/* ---- Sections ---- */

static enum api_err parse_listen(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"https", "http"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *obj = NULL;

    TRY(get_object(w, root, "", "listen", 1, &obj));
    TRY(check_keys(w, obj, "listen", keys, 2));
    TRY(get_string(w, obj, "listen", "https", 1, cfg->listen_https, sizeof(cfg->listen_https)));
    ENSURE(listen_check(cfg->listen_https, strlen(cfg->listen_https)), API_ERR_BAD_REQUEST,
           "listen.https: expected \"host:port\" with a port 1..65535");
    TRY(get_string(w, obj, "listen", "http", 0, cfg->listen_http, sizeof(cfg->listen_http)));
    ENSURE(cfg->listen_http[0] == '\0' || listen_check(cfg->listen_http, strlen(cfg->listen_http)),
           API_ERR_BAD_REQUEST, "listen.http: expected \"host:port\" with a port 1..65535");
    ENSURE(strcmp(cfg->listen_http, cfg->listen_https) != 0, API_ERR_BAD_REQUEST,
           "listen.http: the same address as listen.https");
out:
    return rc;
}

static enum api_err parse_pki(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"roots", "intermediate_cert", "intermediate_key",
                                       "root_crl"};
    enum api_err rc = API_OK;
    json_t *obj = NULL;

    TRY(get_object(w, root, "", "pki", 1, &obj));
    TRY(check_keys(w, obj, "pki", keys, 4));
    TRY(get_path(w, obj, "pki", "roots", 1, 1, cfg->pki_roots, sizeof(cfg->pki_roots)));
    TRY(get_path(w, obj, "pki", "intermediate_cert", 1, 1, cfg->pki_intermediate_cert,
                 sizeof(cfg->pki_intermediate_cert)));
    TRY(get_path(w, obj, "pki", "intermediate_key", 1, 1, cfg->pki_intermediate_key,
                 sizeof(cfg->pki_intermediate_key)));
    TRY(get_path(w, obj, "pki", "root_crl", 0, 1, cfg->pki_root_crl, sizeof(cfg->pki_root_crl)));
out:
    return rc;
}

static enum api_err parse_tls(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"dns_names", "ip_addresses", "cert", "key"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *obj = NULL;

    TRY(get_object(w, root, "", "tls", 0, &obj));
    if (obj == NULL) {
        goto out;
    }
    TRY(check_keys(w, obj, "tls", keys, 4));
    TRY(get_string_array(w, obj, "tls", "dns_names", 0, &cfg->tls_dns_names[0][0],
                         sizeof(cfg->tls_dns_names[0]), &cfg->num_tls_dns_names, api_dns_name_check,
                         "DNS name"));
    TRY(get_string_array(w, obj, "tls", "ip_addresses", 0, &cfg->tls_ip_addresses[0][0],
                         sizeof(cfg->tls_ip_addresses[0]), &cfg->num_tls_ip_addresses, ip_check,
                         "IP address"));
    TRY(get_path(w, obj, "tls", "cert", 0, 1, cfg->tls_cert, sizeof(cfg->tls_cert)));
    TRY(get_path(w, obj, "tls", "key", 0, 1, cfg->tls_key, sizeof(cfg->tls_key)));
    ENSURE((cfg->tls_cert[0] == '\0') == (cfg->tls_key[0] == '\0'), API_ERR_BAD_REQUEST,
           "tls.cert and tls.key: give both or neither");
out:
    return rc;
}

static enum api_err parse_store(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"path", "map_size_mb"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *obj = NULL;
    json_t *v = NULL;

    TRY(get_object(w, root, "", "store", 1, &obj));
    TRY(check_keys(w, obj, "store", keys, 2));
    /* The store's folder is created when absent, so it need not exist. */
    TRY(get_path(w, obj, "store", "path", 1, 0, cfg->store_path, sizeof(cfg->store_path)));
    TRY(get_member(w, obj, "store", "map_size_mb", 0, &v));
    if (v != NULL) {
        ENSURE(json_is_integer(v), API_ERR_BAD_REQUEST, "store.map_size_mb: expected an integer");
        json_int_t mb = json_integer_value(v);
        ENSURE(mb >= 1 && mb <= 1024 * 1024, API_ERR_BAD_REQUEST,
               "store.map_size_mb: must be 1..1048576");
        cfg->store_map_size_mb = (size_t)mb;
    }
out:
    return rc;
}

static enum api_err parse_leaf(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"default_ttl", "max_ttl"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *obj = NULL;
    int default_given = 0;

    TRY(get_object(w, root, "", "leaf", 0, &obj));
    if (obj == NULL) {
        goto out;
    }
    TRY(check_keys(w, obj, "leaf", keys, 2));
    TRY(get_duration(w, obj, "leaf", "default_ttl", &cfg->leaf_default_ttl_s, &default_given));
    TRY(get_duration(w, obj, "leaf", "max_ttl", &cfg->leaf_max_ttl_s, NULL));
    ENSURE(cfg->leaf_max_ttl_s >= 60, API_ERR_BAD_REQUEST, "leaf.max_ttl: at least 1m");
    if (!default_given && cfg->leaf_default_ttl_s > cfg->leaf_max_ttl_s) {
        cfg->leaf_default_ttl_s = cfg->leaf_max_ttl_s;
    }
    ENSURE(cfg->leaf_default_ttl_s >= 60, API_ERR_BAD_REQUEST, "leaf.default_ttl: at least 1m");
    ENSURE(cfg->leaf_default_ttl_s <= cfg->leaf_max_ttl_s, API_ERR_BAD_REQUEST,
           "leaf.default_ttl: must not exceed leaf.max_ttl");
out:
    return rc;
}

static enum api_err parse_kubernetes(struct walk *w, json_t *auth, struct api_config *cfg)
{
    static const char *const keys[] = {"issuer", "audiences", "jwks_file"};
    enum api_err rc = API_OK;
    json_t *obj = NULL;

    TRY(get_object(w, auth, "auth", "kubernetes", 0, &obj));
    if (obj == NULL) {
        goto out;
    }
    cfg->k8s_enabled = 1;
    TRY(check_keys(w, obj, "auth.kubernetes", keys, 3));
    TRY(get_string(w, obj, "auth.kubernetes", "issuer", 1, cfg->k8s_issuer,
                   sizeof(cfg->k8s_issuer)));
    TRY(get_string_array(w, obj, "auth.kubernetes", "audiences", 1, &cfg->k8s_audiences[0][0],
                         sizeof(cfg->k8s_audiences[0]), &cfg->num_k8s_audiences, NULL, NULL));
    TRY(get_path(w, obj, "auth.kubernetes", "jwks_file", 1, 1, cfg->k8s_jwks_file,
                 sizeof(cfg->k8s_jwks_file)));
out:
    return rc;
}

static enum api_err parse_provisioner(struct walk *w, json_t *obj, size_t i, struct api_config *cfg)
{
    static const char *const keys[] = {"name", "public_key", "max_ttl"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    struct api_provisioner *p = &cfg->provisioners[i];
    char path[KEY_PATH_LEN];

    snprintf(path, sizeof(path), "auth.provisioners[%zu]", i);
    ENSURE(json_is_object(obj), API_ERR_BAD_REQUEST, "%s: expected an object", path);
    TRY(check_keys(w, obj, path, keys, 3));
    TRY(get_string(w, obj, path, "name", 1, p->name, sizeof(p->name)));
    ENSURE(name_check(p->name, strlen(p->name)), API_ERR_BAD_REQUEST,
           "%s.name: letters, digits, '.', '-' and '_' only", path);
    ENSURE(strcmp(p->name, cfg->k8s_issuer) != 0, API_ERR_BAD_REQUEST,
           "%s.name: equals auth.kubernetes.issuer", path);
    for (size_t j = 0; j < i; j++) {
        ENSURE(strcmp(p->name, cfg->provisioners[j].name) != 0, API_ERR_BAD_REQUEST,
               "%s.name: duplicate provisioner name", path);
    }
    TRY(get_path(w, obj, path, "public_key", 1, 1, p->public_key, sizeof(p->public_key)));
    p->max_ttl_s = cfg->leaf_max_ttl_s;
    TRY(get_duration(w, obj, path, "max_ttl", &p->max_ttl_s, NULL));
    ENSURE(p->max_ttl_s >= 60, API_ERR_BAD_REQUEST, "%s.max_ttl: at least 1m", path);
    ENSURE(p->max_ttl_s <= cfg->leaf_max_ttl_s, API_ERR_BAD_REQUEST,
           "%s.max_ttl: must not exceed leaf.max_ttl", path);
out:
    return rc;
}

static enum api_err parse_auth(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"kubernetes", "provisioners", "admins"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *obj = NULL;
    json_t *list = NULL;
    struct ca_error cerr;

    TRY(get_object(w, root, "", "auth", 0, &obj));
    if (obj == NULL) {
        goto out;
    }
    TRY(check_keys(w, obj, "auth", keys, 3));
    TRY(parse_kubernetes(w, obj, cfg));
    TRY(get_member(w, obj, "auth", "provisioners", 0, &list));
    if (list != NULL) {
        ENSURE(json_is_array(list), API_ERR_BAD_REQUEST, "auth.provisioners: expected an array");
        ENSURE(json_array_size(list) <= API_MAX_LIST, API_ERR_BAD_REQUEST,
               "auth.provisioners: at most %d entries", API_MAX_LIST);
        for (size_t i = 0; i < json_array_size(list); i++) {
            TRY(parse_provisioner(w, json_array_get(list, i), i, cfg));
            cfg->num_provisioners = i + 1;
        }
    }
    TRY(get_string_array(w, obj, "auth", "admins", 0, &cfg->admins[0][0], sizeof(cfg->admins[0]),
                         &cfg->num_admins, NULL, NULL));
    for (size_t i = 0; i < cfg->num_admins; i++) {
        ENSURE(ca_spiffe_id_check(cfg->admins[i], strlen(cfg->admins[i]), cfg->trust_domain,
                                  &cerr) == CA_OK,
               API_ERR_BAD_REQUEST, "auth.admins[%zu]: %s", i, cerr.msg);
    }
out:
    return rc;
}

static enum api_err parse_crl_ocsp(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const crl_keys[] = {"validity", "refresh"};
    static const char *const ocsp_keys[] = {"validity"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    json_t *obj = NULL;

    TRY(get_object(w, root, "", "crl", 0, &obj));
    if (obj != NULL) {
        TRY(check_keys(w, obj, "crl", crl_keys, 2));
        TRY(get_duration(w, obj, "crl", "validity", &cfg->crl_validity_s, NULL));
        TRY(get_duration(w, obj, "crl", "refresh", &cfg->crl_refresh_s, NULL));
    }
    ENSURE(cfg->crl_refresh_s < cfg->crl_validity_s, API_ERR_BAD_REQUEST,
           "crl.refresh: must be shorter than crl.validity");
    TRY(get_object(w, root, "", "ocsp", 0, &obj));
    if (obj != NULL) {
        TRY(check_keys(w, obj, "ocsp", ocsp_keys, 1));
        TRY(get_duration(w, obj, "ocsp", "validity", &cfg->ocsp_validity_s, NULL));
    }
out:
    return rc;
}

static enum api_err parse_root(struct walk *w, json_t *root, struct api_config *cfg)
{
    static const char *const keys[] = {"trust_domain", "listen", "public_url", "pki", "tls",
                                       "store",        "leaf",   "auth",       "crl", "ocsp"};
    enum api_err rc = API_OK;
    struct api_error *err = w->err;
    struct ca_error cerr;

    ENSURE(json_is_object(root), API_ERR_BAD_REQUEST, "config: expected a JSON object");
    TRY(check_keys(w, root, "", keys, sizeof(keys) / sizeof(keys[0])));
    TRY(get_string(w, root, "", "trust_domain", 1, cfg->trust_domain, sizeof(cfg->trust_domain)));
    ENSURE(ca_trust_domain_check(cfg->trust_domain, strlen(cfg->trust_domain), &cerr) == CA_OK,
           API_ERR_BAD_REQUEST, "trust_domain: %s", cerr.msg);
    TRY(parse_listen(w, root, cfg));
    TRY(get_string(w, root, "", "public_url", 1, cfg->public_url, sizeof(cfg->public_url)));
    ENSURE(url_check(cfg->public_url, strlen(cfg->public_url)), API_ERR_BAD_REQUEST,
           "public_url: expected an http:// or https:// URL without a trailing '/'");
    TRY(parse_pki(w, root, cfg));
    TRY(parse_tls(w, root, cfg));
    TRY(parse_store(w, root, cfg));
    TRY(parse_leaf(w, root, cfg));
    TRY(parse_auth(w, root, cfg));
    TRY(parse_crl_ocsp(w, root, cfg));
out:
    return rc;
}

static void set_defaults(struct api_config *cfg)
{
    cfg->store_map_size_mb = 1024;
    cfg->leaf_default_ttl_s = 3600;
    cfg->leaf_max_ttl_s = 24 * 3600;
    cfg->crl_validity_s = 24 * 3600;
    cfg->crl_refresh_s = 3600;
    cfg->ocsp_validity_s = 4 * 3600;
}

/* config_dir sets |w->dir| to the folder of |path| ("" for the current one). */
static enum api_err config_dir(struct walk *w, const char *path)
{
    enum api_err rc = API_OK;
    struct api_error *err = w->err;

    const char *slash = strrchr(path, '/');
    w->dir[0] = '\0';
    if (slash == NULL) {
        goto out;
    }
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    ENSURE(len < sizeof(w->dir), API_ERR_BAD_REQUEST, "config: path too long");
    memcpy(w->dir, path, len);
    w->dir[len] = '\0';
out:
    return rc;
}

enum api_err api_config_load(const char *path, struct api_config *out, struct api_error *err)
{
    enum api_err rc = API_OK;
    char *text = NULL;
    size_t text_len = 0;
    json_t *root = NULL;
    struct api_config *cfg = NULL;
    struct walk w = {.err = err};
    json_error_t jerr;

    TRY(api_file_read(path, "config", API_MAX_CONFIG_BYTES, &text, &text_len, err));
    TRY(config_dir(&w, path));
    root = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(root != NULL, API_ERR_BAD_REQUEST, "config: line %d: %.100s", jerr.line, jerr.text);
    cfg = calloc(1, sizeof(*cfg));
    ENSURE(cfg != NULL, API_ERR_INTERNAL, "out of memory");
    set_defaults(cfg);
    TRY(parse_root(&w, root, cfg));

    memcpy(out, cfg, sizeof(*cfg));
out:
    free(cfg);
    json_decref(root);
    OPENSSL_clear_free(text, text_len);
    return rc;
}
