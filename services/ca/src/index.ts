export * from './config.js';
export * from './service.js';
export * from './sign-certificate.js';
export * from './issuer.js';
export * from './crl-publisher.js';
export * from './issuer-keys.js';
export * from './issuer-set.js';
