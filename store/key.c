/* key.c: the byte layouts of the store's keys, all big-endian so that LMDB's
 * memcmp order is the order we want. */
#include <string.h>

#include "internal.h"

void store_u64_put(unsigned char *buf, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        buf[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t store_u64_get(const unsigned char *buf)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | buf[i];
    }
    return v;
}

void store_u32_put(unsigned char *buf, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        buf[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint32_t store_u32_get(const unsigned char *buf)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = (v << 8) | buf[i];
    }
    return v;
}

size_t store_serial_key(const unsigned char *serial, size_t serial_len, unsigned char *buf)
{
    /* Callers check 1 <= serial_len <= STORE_SERIAL_MAX first. */
    buf[0] = (unsigned char)serial_len;
    memcpy(buf + 1, serial, serial_len);
    return 1 + serial_len;
}

void store_time_key(int64_t t, uint64_t seq, unsigned char *buf)
{
    /* Flipping the sign bit maps int64 order onto uint64 order. */
    store_u64_put(buf, (uint64_t)t ^ (UINT64_C(1) << 63));
    store_u64_put(buf + 8, seq);
}

int64_t store_time_key_time(const unsigned char *buf)
{
    uint64_t u = store_u64_get(buf) ^ (UINT64_C(1) << 63);
    int64_t t;
    memcpy(&t, &u, sizeof(t)); /* two's complement reinterpretation */
    return t;
}

uint64_t store_time_key_seq(const unsigned char *buf)
{
    return store_u64_get(buf + 8);
}

size_t store_spiffe_prefix(const char *id, size_t id_len, unsigned char *buf)
{
    size_t n = id_len < STORE_SPIFFE_KEY_PREFIX ? id_len : STORE_SPIFFE_KEY_PREFIX;
    memcpy(buf, id, n);
    buf[n] = 0x00;
    return n + 1;
}

size_t store_spiffe_key(const char *id, size_t id_len, const unsigned char *serial,
                        size_t serial_len, unsigned char *buf)
{
    size_t n = store_spiffe_prefix(id, id_len, buf);
    return n + store_serial_key(serial, serial_len, buf + n);
}

size_t store_jti_exp_key(int64_t expires_at, const char *jti, size_t jti_len, unsigned char *buf)
{
    unsigned char tkey[STORE_TIME_KEY_LEN];

    store_time_key(expires_at, 0, tkey);
    memcpy(buf, tkey, 8);
    memcpy(buf + 8, jti, jti_len);
    return 8 + jti_len;
}
