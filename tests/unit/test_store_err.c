/* test_store_err.c: the store's error table. */
#include <criterion/criterion.h>

#include "../../store/store.h"

TestSuite(store_err);

Test(store_err, names_each_code_by_its_short_name)
{
    cr_assert_str_eq(store_err_name(STORE_OK), "ok");
    cr_assert_str_eq(store_err_name(STORE_ERR_MAP_FULL), "map_full");
    cr_assert_str_eq(store_err_name(STORE_ERR_NOT_FOUND), "not_found");
    cr_assert_str_eq(store_err_name(STORE_ERR_CLOSED), "closed");
}

Test(store_err, names_an_out_of_range_code_unknown)
{
    cr_assert_str_eq(store_err_name((enum store_err)999), "unknown");
}
