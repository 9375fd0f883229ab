/* config_pacs.h: the [pacs "NAME"] and [forward "NAME"] sections of the configuration
 * (config_pacs.c), kept apart from the key table because a section's name is data. Private to
 * config.c and tests. */
#ifndef HUREN_GATEWAY_CONFIG_PACS_H
#define HUREN_GATEWAY_CONFIG_PACS_H

#include "config.h"

/* Is section a pacs / forward section ("pacs \"NAME\"", or a malformed "pacs ...")? */
int config__is_pacs_section(const char *section);
int config__is_forward_section(const char *section);
/* Set one key of the section. Returns 0, or -1 with the reason in err. */
int config__pacs_set(config *cfg, const char *section, const char *key, const char *value,
                     char *err, size_t errlen);
int config__forward_set(config *cfg, const char *section, const char *key, const char *value,
                        char *err, size_t errlen);
/* Checks once every line is read: each [pacs] complete, each [forward]'s destination known. */
int config__pacs_validate(const config *cfg, char *err, size_t errlen);
void config__pacs_free(config *cfg);
/* An AE title: 1..16 characters of the default repertoire, no backslash (config.c). */
int config__aet_valid(const char *v);

#endif
