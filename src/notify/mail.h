/* Outgoing e-mail (password reset links) by mail_transport:
 *   file (default)        one RFC 5322 message per file in data_dir/outbox/
 *                         (mode 0600, written whole then renamed into place),
 *                         for an operator or a mail relay to pick up;
 *   smtp://host[:port]    libcurl SMTP (STARTTLS when the server offers it;
 *   smtps://host[:port]   implicit TLS with smtps), user:password@ allowed.
 * The message body is never logged. Any thread; slow: call from a worker. */
#ifndef TESSERA_NOTIFY_MAIL_H
#define TESSERA_NOTIFY_MAIL_H

struct config;

/* True when value names a transport mail_send understands. */
int mail_transport_check(const char *value);

/* Sends a plain-text UTF-8 message. to and subject must be single-line
 * (accounts_email_valid addresses are). 0 or -errno (logged, without the
 * body or the transport's credentials). */
int mail_send(const struct config *cfg, const char *to, const char *subject, const char *text);

#endif
