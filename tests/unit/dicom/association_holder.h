/* association_holder.h: opens a Verification association with DCMTK's DcmSCU and keeps it open
 * while a test checks what the SCP does meanwhile (association limit, stop with grace). */
#ifndef TEST_ASSOCIATION_HOLDER_H
#define TEST_ASSOCIATION_HOLDER_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tah_assoc tah_assoc;

/* Open an association from AE "HOLDER" to called_ae at 127.0.0.1:port. NULL if refused. */
tah_assoc *tah_open(int port, const char *called_ae);
/* C-ECHO on the open association: 0 if answered with success. */
int tah_echo(tah_assoc *a);
/* Release (or abort if that fails) and free. NULL-safe. */
void tah_close(tah_assoc *a);

#ifdef __cplusplus
}
#endif
#endif
