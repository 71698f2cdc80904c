export * from './records.js';
export * from './store.js';
export * from './lmdb-store.js';
export * from './open-store.js';
