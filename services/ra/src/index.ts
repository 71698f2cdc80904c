export * from './config.js';
export * from './service.js';
export * from './operations.js';
export * from './certificate-status.js';
export * from './enrol.js';
export * from './k8s-service-accounts.js';
export { LIST_RULES } from './lists.js';
export { ROUTE_RULE } from './authenticate.js';
export { createOcspAnswers, tenantAnswersIn, type OcspAnswers } from './ocsp-answers.js';
