export * from './contract.js';
export * from './client.js';
export * from './json-body.js';
