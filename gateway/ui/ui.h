/* ui.h: the doctors' web page (ui_serve.c; files embedded from www/): GET /ui[/{page}] (the
 * page shell, audited) and GET /ui/static/{file}; the content type by file name. */
#ifndef HUREN_GATEWAY_UI_H
#define HUREN_GATEWAY_UI_H

#include "http/http.h"

int ui_page(http_request *req, http_response *res);
int ui_static(http_request *req, http_response *res);
const char *ui_content_type(const char *name);

#endif
