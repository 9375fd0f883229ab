/* records_fhir.h: the records API's answers as FHIR R4 (records_fhir.c), given when the client
 * asks for FHIR (records_fhir_wanted): a patient's reports as a searchset Bundle, one report
 * as a DiagnosticReport with its Observations contained, one visit as a collection Bundle. */
#ifndef HUREN_GATEWAY_RECORDS_FHIR_H
#define HUREN_GATEWAY_RECORDS_FHIR_H

#include "http/http.h"
#include "index/index_records.h"
#include "index/index_directory.h"

/* Does the request ask for FHIR? "Accept: application/fhir+json", or ?_format=json,
 * application/fhir+json or fhir (FHIR's own parameter). */
int records_fhir_wanted(http_request *req);

/* Each answers 200 with the FHIR JSON of the records given (borrowed), or 500 when out of
 * memory. local_id: the patient's local id. */
int records_fhir_reports(http_request *req, http_response *res, const char *local_id,
                         const huren_index_report_list *l);
int records_fhir_report(http_request *req, http_response *res, const huren_index_report *r);
int records_fhir_visit(http_request *req, http_response *res, const huren_index_visit_record *v);

#endif
