export * from './violations.js';
export * from './weak-keys.js';
export * from './key-policy.js';
export * from './subject-rules.js';
export * from './csr-policy.js';
export * from './validity.js';
export * from './revocation-policy.js';
export * from './server-policy.js';
