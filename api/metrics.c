/* metrics.c: Prometheus counters kept with relaxed atomics (no lock on the
 * request path) and rendered in the text exposition format at scrape time. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* The statuses the server answers with; anything else lands in slot 0. */
static const unsigned status_slots[16] = {0,   200, 201, 400, 401, 403, 404, 405,
                                          413, 415, 429, 500, 503, 0,   0,   0};

/* Upper bounds of the request duration histogram, in microseconds and as
 * printed. */
static const uint64_t duration_us[API_METRICS_NUM_BUCKETS] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
static const char *const duration_le[API_METRICS_NUM_BUCKETS] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};

/* The stages of an issuance take from tens of microseconds (signing) to
 * milliseconds (a synced commit), so their buckets start lower. */
static const uint64_t stage_us[API_METRICS_NUM_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
static const char *const stage_le[API_METRICS_NUM_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "1"};
static const char *const stage_names[API_NUM_STAGES] = {"queue", "sign", "commit"};

static const char *const method_names[4] = {"none", "kubernetes", "provisioner", "mtls"};

static size_t status_slot(unsigned status)
{
    for (size_t i = 1; i < 13; i++) {
        if (status_slots[i] == status) {
            return i;
        }
    }
    return 0;
}

static void histogram_add(struct api_histogram *h, const uint64_t *bounds, uint64_t us)
{
    for (size_t i = 0; i < API_METRICS_NUM_BUCKETS; i++) {
        if (us <= bounds[i]) {
            atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void api_metrics_observe(struct api_metrics *m, enum api_route_id route, unsigned status,
                         uint64_t us)
{
    if ((unsigned)route >= API_NUM_ROUTES) {
        route = API_ROUTE_OTHER;
    }
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
    histogram_add(&m->durations[route], duration_us, us);
}

void api_metrics_stage(struct api_metrics *m, enum api_stage stage, uint64_t us)
{
    if ((unsigned)stage < API_NUM_STAGES) {
        histogram_add(&m->stages[stage], stage_us, us);
    }
}

void api_metrics_issued(struct api_metrics *m, enum api_auth_method method)
{
    if ((unsigned)method >= 4) {
        return;
    }
    atomic_fetch_add_explicit(&m->issuances[method], 1, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void render_requests(FILE *f, struct api_metrics *m)
{
    fprintf(f, "# HELP signet_http_requests_total HTTP requests answered, by route and status.\n"
               "# TYPE signet_http_requests_total counter\n");
    for (int r = 0; r < API_NUM_ROUTES; r++) {
        for (size_t s = 0; s < 13; s++) {
            uint64_t n = load(&m->requests[r][s]);
            if (n == 0) {
                continue;
            }
            if (s == 0) {
                fprintf(f, "signet_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                        api_route_name((enum api_route_id)r), (unsigned long long)n);
            } else {
                fprintf(f, "signet_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                        api_route_name((enum api_route_id)r), status_slots[s],
                        (unsigned long long)n);
            }
        }
    }
}

/* render_histogram writes the series of one histogram |name| with one label
 * (|label|=|value|); nothing when it has counted nothing. */
static void render_histogram(FILE *f, const char *name, const char *label, const char *value,
                             struct api_histogram *h, const char *const *le)
{
    uint64_t count = load(&h->count);
    if (count == 0) {
        return;
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b < API_METRICS_NUM_BUCKETS; b++) {
        cumulative += load(&h->buckets[b]);
        fprintf(f, "%s_bucket{%s=\"%s\",le=\"%s\"} %llu\n", name, label, value, le[b],
                (unsigned long long)cumulative);
    }
    fprintf(f, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value,
            (unsigned long long)count);
    uint64_t sum = load(&h->sum_us);
    fprintf(f, "%s_sum{%s=\"%s\"} %llu.%06llu\n", name, label, value,
            (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000));
    fprintf(f, "%s_count{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)count);
}

static void render_histograms(FILE *f, struct api_metrics *m)
{
    fprintf(f, "# HELP signet_http_request_duration_seconds Time from request headers to the "
               "response being sent.\n"
               "# TYPE signet_http_request_duration_seconds histogram\n");
    for (int r = 0; r < API_NUM_ROUTES; r++) {
        render_histogram(f, "signet_http_request_duration_seconds", "route",
                         api_route_name((enum api_route_id)r), &m->durations[r], duration_le);
    }
    fprintf(f, "# HELP signet_issuance_stage_seconds Time an issuance spent waiting for a "
               "signer (queue), signing (sign) and being committed (commit).\n"
               "# TYPE signet_issuance_stage_seconds histogram\n");
    for (int st = 0; st < API_NUM_STAGES; st++) {
        render_histogram(f, "signet_issuance_stage_seconds", "stage", stage_names[st],
                         &m->stages[st], stage_le);
    }
}

static void render_gauges(FILE *f, struct api_metrics *m, const struct api_metrics_gauges *g)
{
    fprintf(f, "# HELP signet_issuances_total Certificates issued, by authentication method.\n"
               "# TYPE signet_issuances_total counter\n");
    for (size_t i = 1; i < 4; i++) {
        fprintf(f, "signet_issuances_total{method=\"%s\"} %llu\n", method_names[i],
                (unsigned long long)load(&m->issuances[i]));
    }
    fprintf(f,
            "# HELP signet_signing_queue_depth Issuances waiting for a signer thread.\n"
            "# TYPE signet_signing_queue_depth gauge\n"
            "signet_signing_queue_depth %lld\n",
            (long long)atomic_load_explicit(&m->queue_depth, memory_order_relaxed));
    fprintf(f,
            "# HELP signet_intermediate_expiry_seconds Seconds until the intermediate "
            "expires.\n"
            "# TYPE signet_intermediate_expiry_seconds gauge\n"
            "signet_intermediate_expiry_seconds %lld\n",
            (long long)g->intermediate_expiry_s);
    if (g->has_crl || g->has_root_crl) {
        /* Past zero, relying parties that check CRLs refuse every chain. */
        fprintf(f, "# HELP signet_crl_next_update_seconds Seconds until the nextUpdate of the "
                   "CRL served, by CRL (negative: stale).\n"
                   "# TYPE signet_crl_next_update_seconds gauge\n");
    }
    if (g->has_crl) {
        fprintf(f, "signet_crl_next_update_seconds{crl=\"intermediate\"} %lld\n",
                (long long)g->crl_next_update_s);
    }
    if (g->has_root_crl) {
        fprintf(f, "signet_crl_next_update_seconds{crl=\"root\"} %lld\n",
                (long long)g->root_crl_next_update_s);
    }
    fprintf(f,
            "# HELP signet_ocsp_cache_hits_total OCSP requests answered from the cache of "
            "signed responses.\n"
            "# TYPE signet_ocsp_cache_hits_total counter\n"
            "signet_ocsp_cache_hits_total %llu\n"
            "# HELP signet_ocsp_responses_signed_total OCSP responses signed (cache misses, "
            "refreshes, requests with a nonce).\n"
            "# TYPE signet_ocsp_responses_signed_total counter\n"
            "signet_ocsp_responses_signed_total %llu\n"
            "# HELP signet_ocsp_cache_evictions_total Live cache entries pushed out for room.\n"
            "# TYPE signet_ocsp_cache_evictions_total counter\n"
            "signet_ocsp_cache_evictions_total %llu\n"
            "# HELP signet_ocsp_cache_capacity Entries the OCSP cache holds at most.\n"
            "# TYPE signet_ocsp_cache_capacity gauge\n"
            "signet_ocsp_cache_capacity %llu\n",
            (unsigned long long)g->ocsp.hits, (unsigned long long)g->ocsp.signs,
            (unsigned long long)g->ocsp.evictions, (unsigned long long)g->ocsp.capacity);
    if (!g->store_ok) {
        return;
    }
    fprintf(f,
            "# HELP signet_store_commits_total Group commits since start.\n"
            "# TYPE signet_store_commits_total counter\n"
            "signet_store_commits_total %llu\n"
            "# HELP signet_store_committed_total Writes in those commits.\n"
            "# TYPE signet_store_committed_total counter\n"
            "signet_store_committed_total %llu\n"
            "# HELP signet_store_commit_batch_size Writes in the last group commit.\n"
            "# TYPE signet_store_commit_batch_size gauge\n"
            "signet_store_commit_batch_size %llu\n"
            "# HELP signet_store_map_used_bytes Bytes of the LMDB map in use.\n"
            "# TYPE signet_store_map_used_bytes gauge\n"
            "signet_store_map_used_bytes %llu\n"
            "# HELP signet_store_map_size_bytes Size of the LMDB map.\n"
            "# TYPE signet_store_map_size_bytes gauge\n"
            "signet_store_map_size_bytes %llu\n"
            "# HELP signet_store_records Issuance records in the store.\n"
            "# TYPE signet_store_records gauge\n"
            "signet_store_records %llu\n",
            (unsigned long long)g->store.commits, (unsigned long long)g->store.committed,
            (unsigned long long)g->store.last_batch, (unsigned long long)g->store.map_used,
            (unsigned long long)g->store.map_size, (unsigned long long)g->store.num_records);
}

char *api_metrics_render(struct api_metrics *m, const struct api_metrics_gauges *g, size_t *out_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL) {
        return NULL;
    }
    render_requests(f, m);
    render_histograms(f, m);
    render_gauges(f, m, g);
    if (ferror(f) || fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *out_len = len;
    return buf;
}
