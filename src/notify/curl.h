/* libcurl's one global set-up, done once for whichever of its users (the
 * webhook, the mail transport) comes first. Any thread. */
#ifndef TESSERA_NOTIFY_CURL_H
#define TESSERA_NOTIFY_CURL_H

/* 0 once libcurl is initialised, else -1 (logged). */
int notify_curl_ready(void);

#endif
