/* dimse_metrics.c: the DICOM side's refusals for /metrics, stage by stage: connections closed
 * before an association (cap on negotiations, timeout, silent, not DICOM), associations
 * rejected (busy, AE titles, presentation contexts), datasets and identifiers refused unparsed
 * (nesting), and requests refused because their audit entry could not be written. The plain
 * and the TLS port are counted together; failed TLS handshakes are a reason of their own. */
#include "dimse.h"

#include <stdio.h>
#include <stdlib.h>

/* Both ports' figures in one. */
static void stats_of(node *n, huren_dicom_scp_stats *s)
{
    huren_dicom_scp_stats t;
    huren_dicom_scp_stats_get(n->scp, s);
    huren_dicom_scp_stats_get(n->scp_tls, &t); /* zeros without a TLS port */
    s->refused_busy += t.refused_busy;
    s->refused_ae += t.refused_ae;
    s->refused_other += t.refused_other;
    s->refused_negotiating += t.refused_negotiating;
    s->negotiation_timeouts += t.negotiation_timeouts;
    s->idle_closed += t.idle_closed;
    s->not_association += t.not_association;
    s->identifiers_refused += t.identifiers_refused;
    s->tls_failed += t.tls_failed;
    s->negotiating += t.negotiating;
}

char *dimse_metrics(node *n)
{
    huren_dicom_scp_stats s;
    stats_of(n, &s);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f,
            "# HELP huren_dicom_associations_refused_total DICOM associations rejected "
            "(A-ASSOCIATE-RJ), by reason.\n"
            "# TYPE huren_dicom_associations_refused_total counter\n"
            "huren_dicom_associations_refused_total{reason=\"busy\"} %llu\n"
            "huren_dicom_associations_refused_total{reason=\"ae_title\"} %llu\n"
            "huren_dicom_associations_refused_total{reason=\"presentation\"} %llu\n",
            (unsigned long long)s.refused_busy, (unsigned long long)s.refused_ae,
            (unsigned long long)s.refused_other);
    fprintf(f,
            "# HELP huren_dicom_connections_closed_total DICOM connections closed before an "
            "association, by reason.\n"
            "# TYPE huren_dicom_connections_closed_total counter\n"
            "huren_dicom_connections_closed_total{reason=\"negotiating_cap\"} %llu\n"
            "huren_dicom_connections_closed_total{reason=\"negotiation_timeout\"} %llu\n"
            "huren_dicom_connections_closed_total{reason=\"silent\"} %llu\n"
            "huren_dicom_connections_closed_total{reason=\"not_association\"} %llu\n"
            "huren_dicom_connections_closed_total{reason=\"tls_handshake\"} %llu\n",
            (unsigned long long)s.refused_negotiating, (unsigned long long)s.negotiation_timeouts,
            (unsigned long long)s.idle_closed, (unsigned long long)s.not_association,
            (unsigned long long)s.tls_failed);
    fprintf(f,
            "# HELP huren_dicom_associations_negotiating DICOM association requests arriving "
            "or being negotiated.\n"
            "# TYPE huren_dicom_associations_negotiating gauge\n"
            "huren_dicom_associations_negotiating %d\n",
            s.negotiating);
    fprintf(f,
            "# HELP huren_dicom_depth_refused_total DICOM datasets refused unparsed for "
            "sequences nested past max_sequence_depth (C-STORE, STOW-RS, identifiers).\n"
            "# TYPE huren_dicom_depth_refused_total counter\n"
            "huren_dicom_depth_refused_total %llu\n",
            (unsigned long long)huren_dicom_depth_refused());
    fprintf(f,
            "# HELP huren_dimse_identifiers_refused_total C-FIND/C-MOVE/C-GET identifiers "
            "refused before parsing (nesting, size, malformed).\n"
            "# TYPE huren_dimse_identifiers_refused_total counter\n"
            "huren_dimse_identifiers_refused_total %llu\n",
            (unsigned long long)s.identifiers_refused);
    fprintf(f,
            "# HELP huren_dimse_audit_failures_total DIMSE requests refused because their "
            "audit entry could not be written.\n"
            "# TYPE huren_dimse_audit_failures_total counter\n"
            "huren_dimse_audit_failures_total %llu\n",
            (unsigned long long)dimse_audit_failures());
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
