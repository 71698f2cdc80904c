export * from './records.js';
export * from './store.js';
export * from './errors.js';
export * from './audit.js';
export * from './lmdb-store.js';
export * from './redis-store.js';
export * from './open-store.js';
export * from './issuer-life.js';
