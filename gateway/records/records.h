/* records.h: the clinical records API (api_records.c): a patient's reports, one report with its
 * history, a visit; JSON or FHIR R4 (records_fhir.h). The HL7 feed that fills the records is
 * hl7feed.h; the mapping of messages to records is gateway/ingest/. */
#ifndef HUREN_GATEWAY_RECORDS_H
#define HUREN_GATEWAY_RECORDS_H

#include "http/http.h"

int api_patient_reports(http_request *req, http_response *res);
int api_report(http_request *req, http_response *res);
int api_patient_visit(http_request *req, http_response *res);

#endif
