/* config_client.h: the [client "NAME"] sections of the configuration (config_client.c), kept
 * apart from the key table because a section's name is data. Private to config.c and tests. */
#ifndef HUREN_GATEWAY_CONFIG_CLIENT_H
#define HUREN_GATEWAY_CONFIG_CLIENT_H

#include "config.h"

/* Is section a client section ("client \"NAME\"", or a malformed "client ...")? */
int config__is_client_section(const char *section);
/* Set one key of the client named in section. Returns 0, or -1 with the reason in err. */
int config__client_set(config *cfg, const char *section, const char *key, const char *value,
                       char *err, size_t errlen);
/* Checks once every line is read: complete sections, no subject or token twice. */
int config__clients_validate(const config *cfg, char *err, size_t errlen);
void config__clients_free(config *cfg);

#endif
