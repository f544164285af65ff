/* err.c: the api module's error table: wire codes and HTTP statuses. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

const char *api_err_wire(enum api_err code)
{
    switch (code) {
#define API_ERR_WIRE(c, wire, status)                                                              \
    case c:                                                                                        \
        return wire;
        API_ERRORS(API_ERR_WIRE)
#undef API_ERR_WIRE
    }
    return "internal";
}

unsigned api_err_status(enum api_err code)
{
    switch (code) {
#define API_ERR_STATUS(c, wire, status)                                                            \
    case c:                                                                                        \
        return status;
        API_ERRORS(API_ERR_STATUS)
#undef API_ERR_STATUS
    }
    return 500;
}

/* cut_partial_utf8 drops a UTF-8 sequence cut short at the end of |s|, by a
 * precision such as %.40s or by the message buffer's size: a message quoting
 * a client's valid UTF-8 stays valid, and so can be sent and logged. */
static void cut_partial_utf8(char *s)
{
    size_t len = strlen(s);
    size_t lead = len;
    while (lead > 0 && len - lead < 3 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80) {
        lead--; /* back over continuation bytes */
    }
    if (lead == 0) {
        return;
    }
    unsigned char c = (unsigned char)s[lead - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len - (lead - 1) < need) {
        s[lead - 1] = '\0';
    }
}

enum api_err api_fail(struct api_error *err, enum api_err code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->msg[0] = '\0';
    }
    cut_partial_utf8(err->msg);
    return code;
}
