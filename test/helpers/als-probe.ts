/**
 * Loaded with `node --import` into a service under test (test/ocsp-hot-path.test.ts): writes
 * `ALS-RUN <method>` on stderr whenever an AsyncLocalStorage is run or entered. Once that happens
 * its async hook stays enabled for the whole process (Node 20), a cost on every async resource.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const proto = AsyncLocalStorage.prototype as unknown as Record<'run' | 'enterWith', (...args: unknown[]) => unknown>;
for (const method of ['run', 'enterWith'] as const) {
  const original = proto[method];
  proto[method] = function (this: unknown, ...args: unknown[]) {
    process.stderr.write(`ALS-RUN ${method}\n`);
    return original.apply(this, args);
  };
}
