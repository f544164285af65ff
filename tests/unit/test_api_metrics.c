/* test_api_metrics.c: counters and the Prometheus text of api/metrics.c. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../api/internal.h"

TestSuite(api_metrics);

static char *render(struct api_metrics *m, const struct api_metrics_gauges *g)
{
    size_t len = 0;
    char *s = api_metrics_render(m, g, &len);
    cr_assert_not_null(s);
    cr_assert_eq(strlen(s), len);
    return s;
}

Test(api_metrics, counts_requests_by_route_and_status)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {0};
    api_metrics_observe(&m, API_ROUTE_SIGN, 201, 2000);
    api_metrics_observe(&m, API_ROUTE_SIGN, 201, 3000);
    api_metrics_observe(&m, API_ROUTE_SIGN, 429, 10);
    char *s = render(&m, &g);
    cr_assert(strstr(s, "signet_http_requests_total{route=\"/v1/sign\",code=\"201\"} 2\n"), "%s",
              s);
    cr_assert(strstr(s, "signet_http_requests_total{route=\"/v1/sign\",code=\"429\"} 1\n"));
    cr_assert_null(strstr(s, "route=\"/healthz\""));
    free(s);
}

Test(api_metrics, renders_a_cumulative_histogram)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {0};
    api_metrics_observe(&m, API_ROUTE_HEALTHZ, 200, 500);      /* le 0.001 */
    api_metrics_observe(&m, API_ROUTE_HEALTHZ, 200, 7000);     /* le 0.01 */
    api_metrics_observe(&m, API_ROUTE_HEALTHZ, 200, 60000000); /* only +Inf */
    char *s = render(&m, &g);
    cr_assert(strstr(
        s, "signet_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.001\"} 1\n"));
    cr_assert(strstr(
        s, "signet_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1\n"));
    cr_assert(strstr(
        s, "signet_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.01\"} 2\n"));
    cr_assert(
        strstr(s, "signet_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 2\n"));
    cr_assert(strstr(
        s, "signet_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n"));
    cr_assert(strstr(s, "signet_http_request_duration_seconds_sum{route=\"/healthz\"} 60.007500\n"),
              "%s", s);
    cr_assert(strstr(s, "signet_http_request_duration_seconds_count{route=\"/healthz\"} 3\n"));
    free(s);
}

Test(api_metrics, renders_the_issuance_stages_with_finer_buckets)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {0};
    api_metrics_stage(&m, API_STAGE_SIGN, 80);        /* le 0.0001 */
    api_metrics_stage(&m, API_STAGE_SIGN, 300);       /* le 0.0005 */
    api_metrics_stage(&m, API_STAGE_COMMIT, 2000);    /* le 0.0025 */
    api_metrics_stage(&m, API_STAGE_COMMIT, 3000000); /* only +Inf */
    api_metrics_stage(&m, API_NUM_STAGES, 10);        /* no such stage: dropped */
    char *s = render(&m, &g);
    cr_assert(strstr(s, "# TYPE signet_issuance_stage_seconds histogram\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"sign\",le=\"0.0001\"} 1\n"),
              "%s", s);
    cr_assert(strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"sign\",le=\"0.00025\"} 1\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"sign\",le=\"0.0005\"} 2\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_sum{stage=\"sign\"} 0.000380\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_count{stage=\"sign\"} 2\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"commit\",le=\"0.001\"} 0\n"));
    cr_assert(
        strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"commit\",le=\"0.0025\"} 1\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"commit\",le=\"1\"} 1\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 2\n"));
    cr_assert(strstr(s, "signet_issuance_stage_seconds_sum{stage=\"commit\"} 3.002000\n"));
    /* A stage that counted nothing has no series, like a route never asked. */
    cr_assert_null(strstr(s, "stage=\"queue\""));
    free(s);
}

Test(api_metrics, counts_issuances_by_method)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {0};
    api_metrics_issued(&m, API_AUTH_KUBERNETES);
    api_metrics_issued(&m, API_AUTH_MTLS);
    api_metrics_issued(&m, API_AUTH_MTLS);
    char *s = render(&m, &g);
    cr_assert(strstr(s, "signet_issuances_total{method=\"kubernetes\"} 1\n"));
    cr_assert(strstr(s, "signet_issuances_total{method=\"provisioner\"} 0\n"));
    cr_assert(strstr(s, "signet_issuances_total{method=\"mtls\"} 2\n"));
    free(s);
}

Test(api_metrics, renders_gauges_and_store_statistics)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {.intermediate_expiry_s = 86400, .store_ok = 1};
    g.store.commits = 7;
    g.store.committed = 40;
    g.store.last_batch = 9;
    m.queue_depth = 3;
    char *s = render(&m, &g);
    cr_assert(strstr(s, "signet_intermediate_expiry_seconds 86400\n"));
    cr_assert(strstr(s, "signet_signing_queue_depth 3\n"));
    cr_assert(strstr(s, "signet_store_commit_batch_size 9\n"));
    cr_assert(strstr(s, "signet_store_commits_total 7\n"));
    cr_assert(strstr(s, "# TYPE signet_http_request_duration_seconds histogram\n"));
    free(s);
}

Test(api_metrics, renders_the_time_left_to_each_crl_next_update_and_only_those_served)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {.has_crl = 1, .crl_next_update_s = 3500};
    char *s = render(&m, &g);
    cr_assert(strstr(s, "# TYPE signet_crl_next_update_seconds gauge\n"));
    cr_assert(strstr(s, "signet_crl_next_update_seconds{crl=\"intermediate\"} 3500\n"));
    cr_assert_null(strstr(s, "crl=\"root\""), "no root CRL configured, no line");
    free(s);
    g.has_root_crl = 1;
    g.root_crl_next_update_s = -60; /* stale: the alert's case */
    s = render(&m, &g);
    cr_assert(strstr(s, "signet_crl_next_update_seconds{crl=\"root\"} -60\n"));
    free(s);
    g.has_crl = 0;
    g.has_root_crl = 0;
    s = render(&m, &g);
    cr_assert_null(strstr(s, "signet_crl_next_update_seconds"), "nothing served yet, no lines");
    free(s);
}

Test(api_metrics, renders_the_ocsp_cache_counters)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {
        .ocsp = {.hits = 41, .signs = 7, .evictions = 2, .capacity = 4096}};
    char *s = render(&m, &g);
    cr_assert(strstr(
        s, "# TYPE signet_ocsp_cache_hits_total counter\nsignet_ocsp_cache_hits_total 41\n"));
    cr_assert(strstr(s, "# TYPE signet_ocsp_responses_signed_total counter\n"
                        "signet_ocsp_responses_signed_total 7\n"));
    cr_assert(strstr(s, "signet_ocsp_cache_evictions_total 2\n"));
    cr_assert(
        strstr(s, "# TYPE signet_ocsp_cache_capacity gauge\nsignet_ocsp_cache_capacity 4096\n"));
    free(s);
}

Test(api_metrics, leaves_out_store_lines_when_the_store_cannot_be_read)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {.store_ok = 0};
    char *s = render(&m, &g);
    cr_assert_null(strstr(s, "signet_store_"));
    free(s);
}

Test(api_metrics, counts_unexpected_statuses_as_other)
{
    static struct api_metrics m;
    struct api_metrics_gauges g = {0};
    api_metrics_observe(&m, API_ROUTE_OTHER, 418, 1);
    char *s = render(&m, &g);
    cr_assert(strstr(s, "signet_http_requests_total{route=\"other\",code=\"other\"} 1\n"), "%s", s);
    free(s);
}
