#!/usr/bin/env node
// The image's entry point: one image for the three services and the CLI, the first argument chooses.
//   ev-pki ra | ca | ocsp          a service (its configuration from the environment, README "Configuration")
//   ev-pki pki <command> [args]    the pki CLI, e.g. `pki init --org ... --ocsp-url ...`
// The chosen module runs in this process (no child): signals reach it directly, and its exit code is ours.
const ENTRIES = {
  ra: '../../services/ra/dist/main.js',
  ca: '../../services/ca/dist/main.js',
  ocsp: '../../services/ocsp/dist/main.js',
  pki: '../../services/cli/dist/main.js',
};

const which = process.argv[2];
if (!Object.hasOwn(ENTRIES, which ?? '')) {
  process.stderr.write(`ev-pki image: the first argument chooses what runs: ${Object.keys(ENTRIES).join(' | ')} (got ${which === undefined ? 'nothing' : JSON.stringify(which)})\n`);
  process.exit(2);
}
// The chosen module reads its own arguments from process.argv.slice(2): drop the choice.
process.argv.splice(2, 1);
await import(new URL(ENTRIES[which], import.meta.url).href);
