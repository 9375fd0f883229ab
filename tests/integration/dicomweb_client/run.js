// run.js: drives a huren node with the dicomweb-client npm package (a DICOMweb client we did
// not write): searchForStudies, retrieveStudyMetadata, retrieveInstance, storeInstances.
// Usage: node run.js BASE_URL PATIENT_ID STUDY SERIES INSTANCE FILE_TO_STORE. Prints one JSON object of
// what it saw; the Python test (test_dicomweb.py) checks it. Exit 1 on any failure.
'use strict';
global.XMLHttpRequest = require('xhr2');
const crypto = require('crypto');
const fs = require('fs');
const { api } = require('dicomweb-client');

async function main() {
  const [base, patientId, study, series, instance, file] = process.argv.slice(2);
  const client = new api.DICOMwebClient({ url: base });
  const out = {};
  const studies = await client.searchForStudies({ queryParams: { PatientID: patientId } });
  out.studies = studies.map((s) => s['0020000D'].Value[0]).sort();
  out.patientName = studies.length ? studies[0]['00100010'].Value[0] : null;
  const meta = await client.retrieveStudyMetadata({ studyInstanceUID: study });
  out.metadataCount = meta.length;
  out.metadataSops = meta.map((m) => m['00080018'].Value[0]).sort();
  const inst = await client.retrieveInstance({
    studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: instance,
  });
  out.instanceSha256 = crypto.createHash('sha256').update(Buffer.from(inst)).digest('hex');
  const data = fs.readFileSync(file);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const stored = await client.storeInstances({ datasets: [ab] });
  const body = typeof stored === 'string' ? JSON.parse(stored) : stored;
  out.storedRefs = body && body['00081199'] ? body['00081199'].Value.length : 0;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write('dicomweb-client failed: ' + (e.status || '') + ' ' + e.message + '\n');
  process.exit(1);
});
