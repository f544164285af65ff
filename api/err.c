/* err.c: the api module's error table: wire codes and HTTP statuses. */
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
