/* huren_err.h: the size of every error-message buffer of the project. Messages are one line
 * ("file:line: [section] key: why", "C-STORE 1.2.3 from AE: reason"); a longer one is cut by
 * snprintf, never overflowed. */
#ifndef HUREN_ERR_H
#define HUREN_ERR_H

#define HUREN_ERRLEN 512

#endif
