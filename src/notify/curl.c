#include "notify/curl.h"

#include <curl/curl.h>
#include <pthread.h>

#include "util/log.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ready = -1;

static void init(void)
{
    ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
    if (ready < 0)
        log_error("cannot initialise libcurl");
}

int notify_curl_ready(void)
{
    pthread_once(&once, init);
    return ready;
}
