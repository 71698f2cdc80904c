import cluster from 'node:cluster';
import { createLogger, readManifestFor, readServiceTls, runService } from '@evpki/service';
import { runOcspPrimary } from './cluster.js';
import { loadOcspConfig, type OcspConfig } from './config.js';
import { createOcspService } from './service.js';

/** The configuration, checked to be the PKI's: refuses to start without one, or on a store other than the one it was made in (Manifest.store). */
function checkedConfig(): OcspConfig {
  const config = loadOcspConfig(process.env);
  readManifestFor(config.dataDir, config.store, (note) => createLogger('ocsp').warn({ event: 'manifest.store' }, note));
  return config;
}

/** A whole responder in this process: the only one (OCSP_WORKERS=1), or a worker of the primary (cluster.ts). */
function runResponder(): void {
  runService('ocsp', () => {
    const config = checkedConfig();
    return createOcspService(config, { caTls: readServiceTls(config.dataDir, 'ocsp-client') });
  });
}

if (cluster.isWorker) runResponder();
else {
  let config: OcspConfig | undefined;
  try {
    config = checkedConfig();
  } catch {
    // runResponder reports it (service.fatal, exit 1), like any failure at start.
  }
  if (config && config.workers > 1) runOcspPrimary(config.workers);
  else runResponder();
}
