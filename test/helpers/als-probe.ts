/**
 * Loaded with `node --import` into a service under test (test/no-async-hooks.test.ts): writes
 * `ASYNC-HOOK <what>` on stderr whenever an AsyncLocalStorage is run or entered, or an async hook
 * is enabled. On Node 20 either leaves promise hooks on for the process: a cost on every promise
 * and async resource (docs/architecture.md "Hot paths").
 */
import asyncHooks from 'node:async_hooks';

const report = (what: string): void => void process.stderr.write(`ASYNC-HOOK ${what}\n`);
const proto = asyncHooks.AsyncLocalStorage.prototype as unknown as Record<'run' | 'enterWith', (...args: unknown[]) => unknown>;
for (const method of ['run', 'enterWith'] as const) {
  const original = proto[method];
  proto[method] = function (this: unknown, ...args: unknown[]) {
    report(`AsyncLocalStorage.${method}`);
    return original.apply(this, args);
  };
}
const createHook = asyncHooks.createHook;
asyncHooks.createHook = (callbacks) => {
  const hook = createHook(callbacks);
  const enable = hook.enable.bind(hook);
  hook.enable = () => {
    report('createHook().enable');
    return enable();
  };
  return hook;
};
