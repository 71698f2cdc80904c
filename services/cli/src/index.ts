export * from './init.js';
export * from './token.js';
export * from './hierarchy.js';
export * from './cli-error.js';
export * from './exit-codes.js';
export * from './renew.js';
export * from './k8s-secret.js';
