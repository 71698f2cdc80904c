export * from './init.js';
export * from './token.js';
export * from './hierarchy.js';
export * from './cli-error.js';
