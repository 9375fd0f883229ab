/* config_his.h: the [his "NAME"] sections of the configuration (config_his.c), kept apart
 * from the key table because a section's name is data. Private to config.c and tests. */
#ifndef HUREN_GATEWAY_CONFIG_HIS_H
#define HUREN_GATEWAY_CONFIG_HIS_H

#include "config.h"

/* Is section a his section ("his \"NAME\"", or a malformed "his ...")? */
int config__is_his_section(const char *section);
/* Set one key of the section. Returns 0, or -1 with the reason in err. */
int config__his_set(config *cfg, const char *section, const char *key, const char *value, char *err,
                    size_t errlen);
/* Checks once every line is read: each [his] has a key_file. */
int config__his_validate(const config *cfg, char *err, size_t errlen);
void config__his_free(config *cfg);

#endif
