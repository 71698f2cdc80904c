export * from './config.js';
export * from './service.js';
export * from './metrics.js';
export { RingCache } from './ring-cache.js';
export { noneMatchFails } from './replies.js';
