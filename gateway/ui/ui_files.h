/* ui_files.h: the files of the doctors' web page (gateway/ui/www/), embedded into the binary
 * at build time by embed.cmake into ui_files.c. Names are file names without folder. */
#ifndef HUREN_GATEWAY_UI_FILES_H
#define HUREN_GATEWAY_UI_FILES_H

#include <stddef.h>

typedef struct ui_file {
    const char *name;          /* "app.js" */
    const unsigned char *data; /* len bytes, followed by a NUL */
    size_t len;
} ui_file;

extern const ui_file ui_files[];
extern const size_t ui_nfiles;

#endif
