import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per service, names `pki_<service>_<what>_<unit>`. */
export function createMetrics(service: string) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `pki_${service}_` });
  const requests = new Counter({
    name: `pki_${service}_http_requests_total`,
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const issuances = new Counter({
    name: `pki_${service}_issuances_total`,
    help: 'Certificate requests by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const rejections = new Counter({
    name: `pki_${service}_rejections_total`,
    help: 'Policy rejections by rule ID',
    labelNames: ['rule'] as const,
    registers: [registry],
  });
  const signSeconds = new Histogram({
    name: `pki_${service}_sign_duration_seconds`,
    help: 'Time to check, sign and record one certificate',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  return { registry, requests, issuances, rejections, signSeconds };
}
export type Metrics = ReturnType<typeof createMetrics>;
