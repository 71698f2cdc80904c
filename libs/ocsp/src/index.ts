export * from './hashes.js';
export * from './request.js';
export * from './cert-id.js';
export * from './response.js';
export * from './ocpp.js';
