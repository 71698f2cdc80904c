export * from './errors.js';
export * from './config.js';
export * from './logging.js';
export * from './metrics.js';
export * from './node-http.js';
export * from './auth.js';
export * from './data-dir.js';
export * from './idempotency.js';
