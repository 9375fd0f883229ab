/* share_qr.c: a QR code (libqrencode, error correction M) drawn as one SVG path of its dark
 * modules, with the four-module quiet zone the standard asks for; scales to any print size. */
#include "share.h"
#include "huren_buf.h"

#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>

char *share_qr_svg(const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return NULL;
    int w = q->width, size = w + 8;
    huren_buf b = {0};
    huren_buf_printf(&b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 %d %d\""
                     " shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                     "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                     size, size, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (q->data[y * w + x] & 1)
                huren_buf_printf(&b, "M%d %dh1v1h-1z", x + 4, y + 4);
    huren_buf_printf(&b, "\"/></svg>");
    QRcode_free(q);
    if (b.failed) {
        huren_buf_free(&b);
        return NULL;
    }
    return huren_buf_release(&b);
}
