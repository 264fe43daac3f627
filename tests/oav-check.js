// tests/oav-check.js SPEC_DIR EXCHANGE_FILE...  (run by tests/oav-check.sh,
// with NODE_PATH naming the folder where oav is installed)
//
// Validates recorded exchanges (azure-emulator --record) against Microsoft's
// specs with oav's LiveValidator, the engine of `oav validate-traffic`.
// Exchanges of APIs that have no spec are set aside first, by category, and
// counted.  Prints errors grouped by operation; exits 1 on any error that
// doc/NOTES does not name as an exception, else 0.
"use strict";
const fs = require("fs");
const path = require("path");
const { LiveValidator } = require("oav/dist/lib/liveValidation/liveValidator");
const { DefaultConfig } = require("oav/dist/lib/util/constants");

// APIs Microsoft publishes no spec for (azure-rest-specs/README.md, "What
// has no spec here"), by path.
const NO_SPEC = [
  ["Retail Prices API", /^\/api\/retail\/prices$/],
  ["Entra ID (token, OpenID discovery)", /\/(oauth2\/v2\.0\/token|v2\.0\/\.well-known\/openid-configuration)$/],
  ["IMDS scheduled events", /^\/metadata\/scheduledevents$/],
  ["IMDS userData", /^\/metadata\/instance\/compute\/userData$/],
  ["ARM LRO polling URLs", /\/providers\/Microsoft\.Compute\/locations\/[^/]+\/(operations|operationResults)\/[^/]+$/i],
  ["Microsoft.Network NICs", /\/providers\/Microsoft\.Network\/networkInterfaces\//i],
  ["boot diagnostics blob download", /^\/emulator-blob\//],
  ["ARM subscriptions (Resources spec not in the set)", /^\/subscriptions(\/[^/]+)?$/i],
];

// Errors where Microsoft's documentation and the spec disagree: each is
// named in doc/NOTES with its source.  [operationId, code, JSON path regex]
const EXCEPTIONS = [
  // IMDS returns refresh_token ("") in its token answer (Microsoft's
  // managed-identity docs); imds.json 2021-02-01 does not list it.
  ["Identity_GetToken", "OBJECT_ADDITIONAL_PROPERTIES", /refresh_token|^$/],
];

// Where the product calls a documented shape at another version or path
// than the stored spec has, the exchange is checked at the spec's (an
// approximation, stated in the summary).
function normalise(ex) {
  const u = new URL(ex.liveRequest.url);
  let note = null;
  if (u.pathname === "/metadata/identity/oauth2/token" &&
      u.searchParams.get("api-version") === "2018-02-01") {
    u.searchParams.set("api-version", "2021-02-01");
    note = "IMDS token 2018-02-01 checked as 2021-02-01";
  }
  let m = u.pathname.match(/^\/keyvault\/[^/]+(\/secrets\/.*)$/);
  if (m) {
    u.pathname = m[1];
    note = "Key Vault path-style URL checked host-style";
  }
  m = u.pathname.match(/^\/secrets\/([^/]+)\/?$/);
  if (m && ex.liveRequest.method === "GET") {
    // GetSecret's {secret-version} may be empty: the latest
    u.pathname = "/secrets/" + m[1] + "/latest";
    note = (note ? note + "; " : "") + "version-less GetSecret";
  }
  ex.liveRequest.url = u.toString();
  return note;
}

// oav logs every spec path it loads on stdout: our lines go to fd 3
const out = (line) => fs.writeSync(3, line + "\n");

(async () => {
  const [specDir, ...files] = process.argv.slice(2);
  const lv = new LiveValidator({
    directory: path.resolve(specDir),
    swaggerPathsPattern: ["**/*.json"],
    excludedSwaggerPathsPattern: DefaultConfig.ExcludedExamplesAndCommonFiles,
    git: { shouldClone: false },
    loadValidatorInBackground: false,
    checkUnderFileRoot: false,
  });
  await lv.initialize();
  const noSpec = new Map(), notes = new Map(), ops = new Map();
  let errors = 0, allowed = 0, validated = 0;
  for (const f of files) {
    let ex;
    try {
      ex = JSON.parse(fs.readFileSync(f, "utf8"));
    } catch (e) {
      out(`${f}: not an exchange: ${e.message}`);
      errors++;
      continue;
    }
    const p = new URL(ex.liveRequest.url).pathname;
    const cat = NO_SPEC.find(([, re]) => re.test(p));
    if (cat) {
      noSpec.set(cat[0], (noSpec.get(cat[0]) || 0) + 1);
      continue;
    }
    const note = normalise(ex);
    if (note) notes.set(note, (notes.get(note) || 0) + 1);
    const r = await lv.validateLiveRequestResponse(ex);
    const info = r.requestValidationResult.operationInfo || {};
    const op = info.operationId && info.operationId !== "unknownOperationId"
      ? `${info.operationId} (${info.apiVersion})`
      : `no spec operation: ${ex.liveRequest.method} ${p}`;
    if (!ops.has(op)) ops.set(op, { n: 0, errs: [] });
    const o = ops.get(op);
    o.n++;
    validated++;
    for (const [side, v] of [["request", r.requestValidationResult],
                             ["response", r.responseValidationResult]]) {
      const list = (v.errors || []).map((e) => ({
        code: e.code, message: e.message || "",
        where: (e.jsonPathsInPayload || []).join(",") }));
      if (v.runtimeException)
        list.push({ code: v.runtimeException.code,
                    message: String(v.runtimeException.message), where: "" });
      for (const e of list) {
        if (EXCEPTIONS.some(([id, code, re]) => id === info.operationId &&
                            code === e.code && re.test(e.where))) {
          allowed++;
          continue;
        }
        errors++;
        o.errs.push(`${side} ${e.code} ${e.where} ${e.message.slice(0, 300)} [${path.basename(path.dirname(f))}/${path.basename(f)}]`);
      }
    }
  }
  for (const [op, o] of [...ops].sort()) {
    out(`${op}: ${o.n} exchange(s), ${o.errs.length} error(s)`);
    for (const e of o.errs.slice(0, 10)) out(`    ${e}`);
    if (o.errs.length > 10) out(`    ... ${o.errs.length - 10} more`);
  }
  for (const [k, n] of noSpec) out(`no spec (set aside): ${k}: ${n}`);
  for (const [k, n] of notes) out(`approximation: ${k}: ${n}`);
  out(`oav: ${files.length} exchanges, ${validated} validated, ` +
    `${[...noSpec.values()].reduce((a, b) => a + b, 0)} without a spec, ` +
    `${errors} error(s), ${allowed} allowed exception(s) (doc/NOTES)`);
  process.exit(errors ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
