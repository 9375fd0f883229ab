/* audit_xml.h: the audit trail as DICOM PS3.15 A.5 / IHE ATNA (RFC 3881) audit messages. */
#ifndef HUREN_GATEWAY_AUDIT_XML_H
#define HUREN_GATEWAY_AUDIT_XML_H

#include <stdio.h>

/* Write the entries of the log at path whose time is at or after since (NULL: all) to out as
 * one XML document: <AuditMessages> holding one <AuditMessage> (DICOM Audit Message schema)
 * per entry. source_id names this node (AuditSourceID). Returns the number of messages, or -1
 * with err. Lines that are not JSON entries are skipped and counted in *skipped. */
long audit_xml_export(const char *path, const char *since, const char *source_id, FILE *out,
                      long *skipped, char *err, size_t errlen);

#endif
