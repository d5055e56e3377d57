/*
 * Graceful stop: SIGINT/SIGTERM set a flag that the main loops poll, so a
 * component flushes what it has in flight and exits cleanly. Losing that race
 * (kill -9) is also safe by design; see docs/architecture.md.
 */
#ifndef GRIDHUB_SIGNALS_H
#define GRIDHUB_SIGNALS_H

void gh_signals_install(void);
int gh_stop_requested(void);
/* Lets tests and embedding code request a stop programmatically. */
void gh_request_stop(void);

#endif
